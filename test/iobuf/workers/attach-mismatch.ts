// Attaches (for the first time on this thread) a handle whose two buffers belong to different
// pools, and reports the error.
import { parentPort, workerData } from 'node:worker_threads';
import { type BlockPoolHandle, IOBufPool } from '@weft/iobuf';

try {
  IOBufPool.attach(workerData as BlockPoolHandle);
  parentPort?.postMessage('attached');
} catch (error) {
  parentPort?.postMessage((error as { code?: string }).code);
}
