/**
 * The receiving side of the iobuf benchmark's hand-over rows: takes up shared 1 MiB IOBufs.
 *
 * Each message is a batch of descriptors (what `share()` or `transfer()` returned on the main
 * thread) and the bytes the IOBufs must start and end with. The worker times `IOBuf.fromShared`
 * over the batch, checks that each IOBuf holds the sender's bytes (its blocks are the sender's:
 * nothing was copied), times `release` over the batch, and answers with the ns per IOBuf of each.
 * A `null` message asks it to give back the blocks it keeps for itself (`trim`) before it ends.
 */
import { parentPort } from 'node:worker_threads';
import { IOBuf, IOBufPool, type SharedIOBuf } from '@weft/iobuf';

export interface TakerBatch {
  descriptors: SharedIOBuf[];
  first: number;
  last: number;
}

export interface TakerTimes {
  takeNs: number;
  releaseNs: number;
}

let poolHere: IOBufPool | undefined;

parentPort?.on('message', (batch: TakerBatch | null) => {
  if (batch === null) {
    poolHere?.trim();
    parentPort?.postMessage(null);
    return;
  }
  const { descriptors, first, last } = batch;
  poolHere ??= IOBufPool.attach(descriptors[0].pool);
  const taken: IOBuf[] = [];
  const start = process.hrtime.bigint();
  for (const descriptor of descriptors) taken.push(IOBuf.fromShared(descriptor));
  const tookAt = process.hrtime.bigint();
  for (const buf of taken) {
    if (buf.readUInt8(0) !== first || buf.readUInt8(buf.length - 1) !== last) {
      throw new Error('a shared IOBuf arrived with other bytes');
    }
  }
  const releaseAt = process.hrtime.bigint();
  for (const buf of taken) buf.release();
  const end = process.hrtime.bigint();
  const times: TakerTimes = {
    takeNs: Number(tookAt - start) / taken.length,
    releaseNs: Number(end - releaseAt) / taken.length,
  };
  parentPort?.postMessage(times);
});
