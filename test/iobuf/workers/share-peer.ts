// Takes up IOBufs the main thread shared, checks them, and shares back each one extended with
// bytes written on this thread (or transfers it back, with `transfer`). Then releases everything
// it held and gives its blocks back.
import { parentPort, workerData } from 'node:worker_threads';
import { IOBuf, type IOBufPool, type SharedIOBuf } from '@weft/iobuf';
import { digest } from '../digest.ts';

const { shared, digests, tag, transfer } = workerData as {
  shared: SharedIOBuf[];
  digests: string[];
  tag: string;
  transfer?: boolean;
};
const faults: string[] = [];
const replies: SharedIOBuf[] = [];
const replyDigests: string[] = [];
let pool: IOBufPool | undefined;
for (let i = 0; i < shared.length; i++) {
  const buf = IOBuf.fromShared(shared[i]);
  pool = buf.pool;
  if (digest(buf.toBuffer()) !== digests[i]) faults.push(`IOBuf ${i} arrived different`);
  buf.append(`${tag}:${i}`).append(Buffer.alloc(1000 + i, i));
  replyDigests.push(digest(buf.toBuffer()));
  replies.push(transfer ? buf.transfer() : buf.share());
  buf.release(); // (harmless after transfer)
}
// A reply taken up on the thread that shared it works as well; share it again.
if (replies.length > 0) {
  const again = IOBuf.fromShared(replies[0]);
  if (digest(again.toBuffer()) !== replyDigests[0]) faults.push('a reply taken up here differs');
  replies[0] = again.share();
  again.release();
}
pool?.trim();
parentPort?.postMessage({ faults, replies, replyDigests });
