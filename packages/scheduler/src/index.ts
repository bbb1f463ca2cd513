/**
 * @weft/scheduler — the M:N scheduler: fibers on worker threads that steal work from each other.
 *
 * Register tasks with `task(name, fn)` in a task module; start a `Scheduler` with that module in
 * `tasks`; spawn and join from outside with its methods, and from inside fibers with the effects
 * (`yield* spawn(...)`, `yield* join(id)`, ...).
 */
export {
  cancel,
  detach,
  Effect,
  type JoinOptions,
  join,
  Operation,
  self,
  sleep,
  spawn,
  spawnUrgent,
  type TaskId,
  until,
  yieldNow,
} from './effects.ts';
export {
  addGroupSource,
  atFiberEnd,
  type GroupLots,
  type GroupSource,
  groupIndex,
  installed,
  park,
  type Waker,
} from './extensions.ts';
export {
  type CloseOptions,
  type GroupStats,
  type RunOptions,
  Scheduler,
  type SchedulerOptions,
  type SchedulerStats,
} from './scheduler.ts';
export { schedulerData } from './scheduler-data.ts';
export { CondVar, CountdownEvent, Mutex, Notifier, type WaitOptions } from './sync.ts';
export {
  type TaskArgs,
  type TaskKind,
  type TaskRef,
  type TaskResult,
  task,
} from './task-registry.ts';
