/**
 * schedulerData(): the `data` option of Scheduler.start, as every worker received it.
 *
 * Task arguments travel through the task table; data that every task needs — a SharedArrayBuffer
 * of counters, configuration — is given once at start and read here, on any thread.
 */
let data: unknown;

/** Records this thread's copy of the scheduler's data (at worker boot, or at start). */
export function setSchedulerData(value: unknown): void {
  data = value;
}

/** The `data` passed to Scheduler.start (structured-cloned into each worker). */
export function schedulerData<T = unknown>(): T {
  return data as T;
}
