/**
 * Starting group workers, and checking that they all run the same tasks.
 *
 * A worker imports the task modules and reports the names it registered. Every worker must report
 * exactly the same names: the fnId in a task slot is an index into that list, so a worker with a
 * different list would run the wrong function. A mismatch or an import failure fails the start
 * with a message that says which worker and which names.
 */
import { Worker } from 'node:worker_threads';
import { ErrorCode, WeftError } from '@weft/shm';
import type { BootReport, GroupStart, GroupWorkerData } from './group-worker.ts';

const entry = new URL('./group-worker.ts', import.meta.url);

/** A worker that has imported its task modules and waits for `start`. */
export interface BootedWorker {
  worker: Worker;
  names: string[];
}

/** Starts worker `index` and resolves once it has registered its tasks. */
export function bootWorker(
  index: number,
  taskModules: string[],
  data: unknown,
): Promise<BootedWorker> {
  const workerData: GroupWorkerData = { index, taskModules, data };
  const worker = new Worker(entry, { workerData });
  return new Promise((resolve, reject) => {
    const fail = (cause: unknown) => {
      void worker.terminate();
      reject(
        new WeftError(
          ErrorCode.WORKER_BOOT,
          `worker ${index} failed to start: ${(cause as Error)?.message ?? String(cause)}`,
          { cause },
        ),
      );
    };
    worker.once('error', fail);
    worker.once('exit', (code) => fail(new Error(`it exited with code ${code} during boot`)));
    worker.once('message', (report: BootReport) => {
      worker.removeAllListeners('error');
      worker.removeAllListeners('exit');
      if (report.type === 'registered') return resolve({ worker, names: report.names });
      const cause = new Error(report.message);
      if (report.stack !== undefined) cause.stack = report.stack;
      fail(cause);
    });
  });
}

/** Throws E_REGISTRY_MISMATCH unless `names` equals `expected`, naming what differs. */
export function checkRegistry(
  index: number,
  names: readonly string[],
  expected: readonly string[],
): void {
  if (names.length === expected.length && names.every((name, i) => name === expected[i])) return;
  const missing = expected.filter((name) => !names.includes(name));
  const extra = names.filter((name) => !expected.includes(name));
  throw new WeftError(
    ErrorCode.REGISTRY_MISMATCH,
    `worker ${index} registered different tasks from worker 0` +
      (missing.length > 0 ? `; missing: ${missing.join(', ')}` : '') +
      (extra.length > 0 ? `; extra: ${extra.join(', ')}` : '') +
      ' (every worker must import the same task modules, and each must register the same names)',
  );
}

/** Hands a booted worker the shared state; it starts its TaskGroup. */
export function startWorker(worker: Worker, start: GroupStart): void {
  worker.postMessage(start);
}
