/**
 * Extensions: what layers above the scheduler (such as @weft/channels) build on.
 *
 * A layer that delivers events to fibers needs four things the task API does not give:
 *
 * - a queue of its own that each group polls in its loop, next to its inbox, and counts as work
 *   before it parks (`addGroupSource`): events then reach fibers without a wake-up per event;
 * - a way to park a fiber until the layer resumes it on the same thread (`park`), cheaper than a
 *   promise per event;
 * - a hook when a fiber ends, however it ends (`atFiberEnd`), to free what the fiber held;
 * - shared state on every worker, also on a worker that replaces a dead one (`Scheduler.install`,
 *   then `installed(name)` inside tasks), and a say when a worker dies (`Scheduler.onWorkerDeath`).
 *
 * Sources, parks and fiber-end hooks are local to the thread: a source's `poll` runs on its
 * group's thread, a waker must be called on the parked fiber's thread. Other threads reach a
 * group by signalling its parking lot (`Scheduler.groupLots`), after which the group polls.
 */
import { ErrorCode, WeftTypeError } from '@weft/shm';
import type { ControlBlock } from './control-block.ts';
import { Effect, type EffectHost, type Step } from './effects.ts';
import { type Fiber, requireFiber } from './fiber.ts';

/** A queue a group polls in its loop (after its inbox) and checks before parking. */
export interface GroupSource {
  /** Does some of the queued work; true if there was any. Runs on the group's thread. */
  poll(): boolean;
  /** True while there is work `poll` would do: the group does not park meanwhile. */
  pending(): boolean;
  /**
   * How long, in milliseconds, the group should keep polling before it parks when it runs out of
   * work (0 or absent: the usual ~20 µs, capped to half the groups). A source whose parked fibers
   * wait for latency-sensitive events asks for more: a wake-up through the futex costs ~30 µs.
   */
  spinMs?(): number;
}

/** Resumes a parked fiber; call it on the fiber's thread, once (later calls do nothing). */
export interface Waker<T> {
  resume(value: T): void;
  fail(error: unknown): void;
}

/** Where every group of a scheduler can be woken from any thread (plain, cloneable data). */
export interface GroupLots {
  buffer: SharedArrayBuffer;
  /** Byte offset of each group's ParkingLot in `buffer`, by group index. */
  offsets: number[];
}

// What each scheduler installed, by its shared state (a thread may run groups of several).
const installations = new WeakMap<ControlBlock, Map<string, unknown>>();

/** Records an installed value on this thread (the scheduler, and each worker, call this). */
export function setInstalled(block: ControlBlock, name: string, value: unknown): void {
  let values = installations.get(block);
  if (values === undefined) {
    values = new Map();
    installations.set(block, values);
  }
  values.set(name, value);
}

/**
 * Inside a task: the value the task's scheduler installed under `name` (`Scheduler.install`), or
 * undefined. E_NOT_IN_FIBER outside a task.
 */
export function installed<T = unknown>(name: string): T | undefined {
  const block = requireFiber(`installed("${name}")`).host.block;
  return installations.get(block)?.get(name) as T | undefined;
}

/** Inside a task: the index of the group (worker) it runs on. */
export function groupIndex(): number {
  return requireFiber('groupIndex()').host.index;
}

/** Inside a task: adds `source` to the loop of the group the task runs on. */
export function addGroupSource(source: GroupSource): void {
  if (
    typeof source?.poll !== 'function' ||
    typeof source.pending !== 'function' ||
    (source.spinMs !== undefined && typeof source.spinMs !== 'function')
  ) {
    throw new WeftTypeError(
      ErrorCode.INVALID_ARGUMENT,
      'addGroupSource needs { poll(): boolean, pending(): boolean, spinMs?(): number }',
    );
  }
  requireFiber('addGroupSource()').host.addSource(source);
}

/**
 * Inside a task: runs `callback` when this task's fiber ends — by returning, throwing or being
 * cancelled — before its joiners see the result. Callbacks run newest first; one that throws is
 * reported as a warning and the others still run. A worker that dies runs none.
 */
export function atFiberEnd(callback: () => void): void {
  requireFunction(callback, 'atFiberEnd');
  const fiber = requireFiber('atFiberEnd()');
  if (fiber.atEnd === undefined) fiber.atEnd = [callback];
  else fiber.atEnd.push(callback);
}

class ParkEffect<T> extends Effect<T> {
  readonly #arm: (waker: Waker<T>) => (() => void) | undefined;

  constructor(arm: (waker: Waker<T>) => (() => void) | undefined) {
    super();
    this.#arm = arm;
  }

  perform(host: EffectHost, fiber: Fiber): Step {
    return host.park(fiber, this.#arm as (waker: Waker<unknown>) => (() => void) | undefined);
  }
}

/**
 * Parks the calling fiber until `arm`'s waker resumes it (its value is the result of the
 * `yield*`, or of the `await`) or fails it (the error is thrown there). `arm` runs at once; it may
 * resume right away (the fiber then does not park), and returns what undoes the wait if the fiber
 * is cancelled while parked.
 */
export function park<T>(arm: (waker: Waker<T>) => (() => void) | undefined): Effect<T> {
  requireFunction(arm, 'park');
  return new ParkEffect(arm);
}

function requireFunction(value: unknown, what: string): void {
  if (typeof value !== 'function') {
    throw new WeftTypeError(
      ErrorCode.INVALID_ARGUMENT,
      `${what} needs a function, got ${value === null ? 'null' : typeof value}`,
    );
  }
}
