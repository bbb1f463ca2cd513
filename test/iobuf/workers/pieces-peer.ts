// Appends the raw pieces the main thread exported into shared memory, checks the bytes, gives the
// main thread's references back, then exports its own IOBuf (those bytes and some of its own)
// into the same memory for the main thread. Releases everything it held before answering.
import { parentPort, workerData } from 'node:worker_threads';
import { type BlockPoolHandle, IOBuf, IOBufPool } from '@weft/iobuf';
import { digest } from '../digest.ts';

const { handle, pieces, count, expected, tag } = workerData as {
  handle: BlockPoolHandle;
  pieces: SharedArrayBuffer;
  count: number;
  expected: string;
  tag: string;
};
const pool = IOBufPool.attach(handle, { leakCheck: 'off' });
const words = new Int32Array(pieces);
const faults: string[] = [];
const buf = new IOBuf(pool).appendPieces(words, 0, count);
if (digest(buf.toBuffer()) !== expected) faults.push('the pieces arrived different');
// The references the main thread took for us: this IOBuf holds the blocks on its own now.
for (let i = 0; i < count; i++) pool.blocks.release(words[3 * i]);
if (digest(buf.toBuffer()) !== expected) faults.push('the bytes changed after the release');
buf.append(`${tag}:`).append(Buffer.alloc(700, tag.charCodeAt(0)));
const back = buf.exportPieces(words, 0);
const backDigest = digest(buf.toBuffer());
const backLength = buf.length;
buf.release();
pool.trim();
parentPort?.postMessage({ faults, back, backDigest, backLength });
