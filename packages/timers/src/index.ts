/**
 * @weft/timers — one timer thread for every thread of the process (brpc's TimerThread).
 *
 * Start a `TimerService`; on any thread, attach a `TimerClient` with its `handle` and
 * `schedule` / `unschedule` timers whose targets are endpoints (an inbox and a lot), or use
 * `setTimer` / `clearTimer` for callbacks on the calling thread.
 */
export { now } from './clock.ts';
export type { BucketMode } from './timer-block.ts';
export {
  type DelayOrDeadline,
  TimerClient,
  type TimerClientOptions,
  type TimerHandle,
  type TimerTarget,
} from './timer-client.ts';
export {
  type StopReport,
  TimerService,
  type TimerServiceOptions,
  type TimerStats,
} from './timer-service.ts';
export type { UnscheduleResult } from './timer-table.ts';
export { NO_TOKEN } from './timer-target.ts';
