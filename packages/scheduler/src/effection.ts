/**
 * @weft/scheduler/effection — weft at the edges of an effection program.
 *
 * effection gives structured concurrency: everything started in a scope ends with it. weft gives
 * cheap fibers on every core. They meet at coarse grain — a scheduler per scope, a weft task per
 * request — and never per fiber: an effection task costs ~60–90 µs and ~11 KiB here, about 200×
 * a weft fiber, so fibers are not effection tasks.
 *
 * - `useScheduler(options)`: a scheduler as an effection resource, closed when its scope ends.
 * - `runTask(scheduler, task, ...args)`: a weft task as an effection operation; if the scope is
 *   halted first, the weft task is cancelled.
 * - `joinTask(scheduler, id)`: waits for a task as an operation (halting stops the wait only).
 * - `fromOperation(op)`: inside a weft fiber, waits for an effection operation run on the fiber's
 *   thread; cancelling the fiber halts the operation.
 */
import { type Operation, resource, run, until as untilPromise } from 'effection';
import { Effect, type EffectHost, type Step, type TaskId } from './effects.ts';
import type { Fiber } from './fiber.ts';
import { Scheduler, type SchedulerOptions } from './scheduler.ts';
import type { TaskArgs, TaskRef, TaskResult } from './task-registry.ts';

/** Starts a scheduler for the current scope; it is closed (drained) when the scope ends. */
export function useScheduler(options?: SchedulerOptions): Operation<Scheduler> {
  return resource(function* (provide) {
    const scheduler = yield* untilPromise(Scheduler.start(options));
    try {
      yield* provide(scheduler);
    } finally {
      yield* untilPromise(scheduler.close());
    }
  });
}

/** Runs a weft task and returns its result; halting the scope first cancels the task. */
export function* runTask<T extends TaskRef>(
  scheduler: Scheduler,
  ref: T,
  ...args: TaskArgs<T>
): Operation<TaskResult<T>> {
  const id = scheduler.spawn(ref, ...args);
  let settled = false;
  try {
    const result = yield* untilPromise(scheduler.join(id));
    settled = true;
    return result;
  } catch (error) {
    settled = true;
    throw error;
  } finally {
    // Halted while waiting: cancel the task and give up its result.
    if (!settled) {
      scheduler.cancel(id);
      scheduler.detach(id);
    }
  }
}

/** Waits for a weft task as an effection operation (a halt stops waiting; the task runs on). */
export function* joinTask<R>(scheduler: Scheduler, id: TaskId<R>): Operation<R> {
  return yield* untilPromise(scheduler.join(id));
}

const ignore = () => {};

// Runs an effection operation when performed, and parks the fiber until it ends.
class OperationEffect<T> extends Effect<T> {
  readonly #operation: () => Operation<T>;

  constructor(operation: () => Operation<T>) {
    super();
    this.#operation = operation;
  }

  perform(host: EffectHost, fiber: Fiber): Step {
    const task = run(this.#operation);
    // effection's halt() is lazy: it happens only once its future is consumed.
    return host.until(fiber, task, () => void task.halt().then(ignore, ignore));
  }
}

/**
 * Inside a weft fiber: runs an effection operation on this thread and parks the fiber until it
 * ends. Cancelling the fiber halts the operation.
 */
export function fromOperation<T>(operation: () => Operation<T>): Effect<T> {
  return new OperationEffect(operation);
}
