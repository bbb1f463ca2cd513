// Ends while holding blocks: IOBufs never released, one taken up from the main thread, a write
// block and stashed blocks. `ending` says how the thread ends: returning, process.exit() or an
// uncaught error. Every block must go back to the pool all the same.
import { workerData } from 'node:worker_threads';
import { IOBuf, IOBufPool, type SharedIOBuf } from '@weft/iobuf';

const { handle, shared, ending } = workerData as {
  handle: IOBufPool['handle'];
  shared: SharedIOBuf;
  ending: 'return' | 'exit' | 'throw';
};
const pool = IOBufPool.attach(handle, { leakCheck: 'off' });
const kept = [IOBuf.fromShared(shared), IOBuf.from(Buffer.alloc(5000, 1), pool)];
for (let i = 0; i < 20; i++) IOBuf.from(Buffer.alloc(300, i), pool).release(); // fills the stash
kept.push(kept[1].cutn(100));
if (ending === 'exit') process.exit(0);
if (ending === 'throw') throw new Error('the worker fails while holding blocks');
