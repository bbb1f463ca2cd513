/**
 * schedulerData(): the `data` option of Scheduler.start, in any task.
 *
 * Task arguments travel through the task table; data that every task needs — a SharedArrayBuffer
 * of counters, configuration — is given once at start, structured-cloned into each worker, and
 * read here. Inside a task the value comes from the group running it (several `workers: 0`
 * schedulers may share a thread); elsewhere on a worker thread (a callback, an effection
 * operation) it is that worker's copy.
 */
import { currentFiber } from './fiber.ts';

// The data of the scheduler whose group runs on this worker thread.
let workerData: unknown;

/** Records the data of this worker thread's scheduler (at worker boot). */
export function setWorkerSchedulerData(data: unknown): void {
  workerData = data;
}

/** The `data` passed to Scheduler.start; undefined on a thread that runs no group. */
export function schedulerData<T = unknown>(): T {
  const fiber = currentFiber();
  return (fiber === undefined ? workerData : fiber.host.data) as T;
}
