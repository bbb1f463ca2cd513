// Waits at a gate, then tries to take up one shared IOBuf; reports whether it got it.
import { parentPort, workerData } from 'node:worker_threads';
import { IOBuf, type SharedIOBuf } from '@weft/iobuf';

const { shared, gate } = workerData as { shared: SharedIOBuf; gate: Int32Array };
Atomics.add(gate, 1, 1);
Atomics.wait(gate, 0, 0);
try {
  const buf = IOBuf.fromShared(shared);
  const length = buf.length;
  const pool = buf.pool;
  buf.release();
  pool.trim();
  parentPort?.postMessage({ won: true, length });
} catch (error) {
  parentPort?.postMessage({ won: false, code: (error as { code?: string }).code });
}
