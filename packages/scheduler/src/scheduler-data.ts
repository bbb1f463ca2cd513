/**
 * schedulerData(): the `data` option of Scheduler.start, in any task.
 *
 * Task arguments travel through the task table; data that every task needs — a SharedArrayBuffer
 * of counters, configuration — is given once at start, structured-cloned into each worker, and
 * read here. Several `workers: 0` schedulers may share a thread, so inside a task the value comes
 * from the group running it.
 */
import { currentFiber } from './fiber.ts';

/** The `data` passed to Scheduler.start; E_NOT_IN_FIBER is not raised: outside a task, undefined. */
export function schedulerData<T = unknown>(): T {
  return currentFiber()?.host.data as T;
}
