/**
 * Effects: what a fiber asks its group to do — spawn, join, sleep, yield, cancel.
 *
 * Inside a generator body an effect is used with `yield*`:
 *
 *     const id = yield* spawn(fib, n - 1);
 *     const value = yield* join(id);
 *
 * and inside an async body with `await`: `const value = await join(id)`.
 *
 * An effect is a small single-use object that is its own iterator: `yield*` calls its `next`,
 * which hands the effect itself up to the group's trampoline; the group performs it and resumes
 * the generator with the outcome, which `next` then returns as the value of the `yield*`. No
 * generator object and no promise are created per effect (a generator function per effect costs
 * ~58 ns here, an effect object ~40 ns). For async bodies the same object is a thenable.
 *
 * A group performs an effect either at once (the fiber continues in the same step) or by parking
 * the fiber until something resumes it: `perform` returns CONTINUE or PARK.
 */
import { ErrorCode, WeftError, WeftTypeError } from '@weft/shm';
import type { ControlBlock } from './control-block.ts';
import type { GroupSource, Waker } from './extensions.ts';
import { type Fiber, Resume, requireFiber } from './fiber.ts';
import type { TaskArgs, TaskRef, TaskResult } from './task-registry.ts';

/** A task's id: a versioned slot id, typed with the task's result so `join` knows it. */
export type TaskId<R = unknown> = number & { readonly __taskResult?: R };

/** Options of `join`. */
export interface JoinOptions {
  /** Give up after this many milliseconds with E_TIMEOUT (the task keeps running). */
  timeout?: number;
}

/** Perform's verdict: the fiber parks until resumed, or continues with `fiber.input` now. */
export const PARK = 0;
export const CONTINUE = 1;
export type Step = typeof PARK | typeof CONTINUE;

/** What effects need from the group a fiber is pinned to. */
export interface EffectHost {
  /** The scheduler's `data` option. */
  readonly data: unknown;
  /** The shared state the group runs on. */
  readonly block: ControlBlock;
  spawn(fiber: Fiber, ref: TaskRef, args: unknown[], urgent: boolean): Step;
  join(fiber: Fiber, id: number, timeoutMs: number | undefined): Step;
  yieldNow(fiber: Fiber): Step;
  sleep(fiber: Fiber, ms: number): Step;
  cancel(fiber: Fiber, id: number): Step;
  detach(fiber: Fiber, id: number): Step;
  /** Parks `fiber` until `promise` settles; `onUndo` runs if the wait is abandoned (cancel). */
  until(fiber: Fiber, promise: PromiseLike<unknown>, onUndo?: () => void): Step;
  butexWait(fiber: Fiber, slot: number, expected: number, timeoutMs: number | undefined): Step;
  /** Parks `fiber` until the waker `arm` receives is called (see extensions.ts `park`). */
  park(fiber: Fiber, arm: (waker: Waker<unknown>) => (() => void) | undefined): Step;
  /** Adds a queue this group polls in its loop (see extensions.ts). */
  addSource(source: GroupSource): void;
  /** This group's index. */
  readonly index: number;
}

/** A request from a fiber to its group, usable with `yield*` (generators) or `await` (async). */
export abstract class Effect<T> implements Iterator<Effect<T>, T, unknown>, PromiseLike<T> {
  #started = false;

  /** The group performs the effect for `fiber`. */
  abstract perform(host: EffectHost, fiber: Fiber): Step;

  [Symbol.iterator](): Iterator<Effect<T>, T, unknown> {
    return this;
  }

  next(value?: unknown): IteratorResult<Effect<T>, T> {
    if (this.#started) return { done: true, value: value as T };
    this.#started = true;
    return { done: false, value: this };
  }

  /** An error the group resumes the fiber with surfaces at the `yield*`. */
  throw(error: unknown): IteratorResult<Effect<T>, T> {
    throw error;
  }

  /** A cancel unwinds through the `yield*` so that `finally` blocks run. */
  return(value?: unknown): IteratorResult<Effect<T>, T> {
    return { done: true, value: value as T };
  }

  // biome-ignore lint/suspicious/noThenProperty: effects are deliberately thenables, for async bodies.
  then<A = T, B = never>(
    onFulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return new Promise<T>((resolve, reject) => {
      const fiber = requireFiber('awaiting a weft effect');
      if (fiber.cancelRequested) {
        // An async body has no yield points but its awaits: a pending cancel lands here.
        fiber.cancelled = true;
        reject(new WeftError(ErrorCode.CANCELLED, `task ${fiber.id} was cancelled`));
        return;
      }
      fiber.settle = resolve as (value: unknown) => void;
      fiber.fail = reject;
      if (this.perform(fiber.host, fiber) === CONTINUE) {
        if (fiber.mode === Resume.THROW) reject(fiber.input);
        else resolve(fiber.input as T);
      }
    }).then(onFulfilled, onRejected);
  }
}

/**
 * A sequence of effects, such as a mutex's lock loop: usable with `yield*` in a generator body
 * (it delegates to the generator) and with `await` in an async body (it awaits each effect).
 */
export class Operation<T> implements Iterable<Effect<unknown>, T, unknown>, PromiseLike<T> {
  readonly #body: () => Generator<Effect<unknown>, T, unknown>;

  constructor(body: () => Generator<Effect<unknown>, T, unknown>) {
    this.#body = body;
  }

  [Symbol.iterator](): Generator<Effect<unknown>, T, unknown> {
    return this.#body();
  }

  // biome-ignore lint/suspicious/noThenProperty: operations are deliberately thenables, for async bodies.
  then<A = T, B = never>(
    onFulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.#drive().then(onFulfilled, onRejected);
  }

  async #drive(): Promise<T> {
    const gen = this.#body();
    let step = gen.next();
    while (!step.done) {
      let value: unknown;
      try {
        value = await step.value;
      } catch (error) {
        step = gen.throw(error);
        continue;
      }
      step = gen.next(value);
    }
    return step.value;
  }
}

class SpawnEffect extends Effect<TaskId> {
  readonly #ref: TaskRef;
  readonly #args: unknown[];
  readonly #urgent: boolean;

  constructor(ref: TaskRef, args: unknown[], urgent: boolean) {
    super();
    this.#ref = ref;
    this.#args = args;
    this.#urgent = urgent;
  }

  perform(host: EffectHost, fiber: Fiber): Step {
    return host.spawn(fiber, this.#ref, this.#args, this.#urgent);
  }
}

class JoinEffect<R> extends Effect<R> {
  readonly #id: number;
  readonly #timeout: number | undefined;

  constructor(id: number, timeout: number | undefined) {
    super();
    this.#id = id;
    this.#timeout = timeout;
  }

  perform(host: EffectHost, fiber: Fiber): Step {
    return host.join(fiber, this.#id, this.#timeout);
  }
}

class IdEffect extends Effect<void> {
  readonly #id: number;
  readonly #action: 'cancel' | 'detach';

  constructor(id: number, action: 'cancel' | 'detach') {
    super();
    this.#id = id;
    this.#action = action;
  }

  perform(host: EffectHost, fiber: Fiber): Step {
    return this.#action === 'cancel' ? host.cancel(fiber, this.#id) : host.detach(fiber, this.#id);
  }
}

class YieldEffect extends Effect<void> {
  perform(host: EffectHost, fiber: Fiber): Step {
    return host.yieldNow(fiber);
  }
}

class SleepEffect extends Effect<void> {
  readonly #ms: number;

  constructor(ms: number) {
    super();
    this.#ms = ms;
  }

  perform(host: EffectHost, fiber: Fiber): Step {
    return host.sleep(fiber, this.#ms);
  }
}

class UntilEffect<T> extends Effect<T> {
  readonly #promise: PromiseLike<T>;

  constructor(promise: PromiseLike<T>) {
    super();
    this.#promise = promise;
  }

  perform(host: EffectHost, fiber: Fiber): Step {
    return host.until(fiber, this.#promise);
  }
}

/**
 * Spawns a task (brpc's start_background): it is pushed on this group's deque, where any idle
 * group may steal it, and the caller continues. Returns the new task's id.
 */
export function spawn<T extends TaskRef>(
  ref: T,
  ...args: TaskArgs<T>
): Effect<TaskId<TaskResult<T>>> {
  return new SpawnEffect(ref, args, false) as Effect<TaskId<TaskResult<T>>>;
}

/**
 * Spawns a task and runs it at once on this group (brpc's start_foreground); the caller is
 * queued first in line and resumes when the new task parks or finishes.
 */
export function spawnUrgent<T extends TaskRef>(
  ref: T,
  ...args: TaskArgs<T>
): Effect<TaskId<TaskResult<T>>> {
  return new SpawnEffect(ref, args, true) as Effect<TaskId<TaskResult<T>>>;
}

/**
 * Waits for a task and returns its result, or throws its error (with the task's own stack). The
 * first join collects the result: after it the id is stale (E_STALE_ID); joins already waiting
 * when the task finishes all get the result.
 */
export function join<R>(id: TaskId<R>, options?: JoinOptions): Effect<R> {
  return new JoinEffect<R>(id, options?.timeout);
}

/** Lets the other fibers that are ready on this group run, then continues. */
export function yieldNow(): Effect<void> {
  return new YieldEffect();
}

/** Parks this fiber for `ms` milliseconds (the group keeps running other fibers). */
export function sleep(ms: number): Effect<void> {
  return new SleepEffect(ms);
}

/**
 * Asks a task to stop: a queued task never starts; a running fiber unwinds at its next yield point
 * (its `finally` blocks run). Its joiners get E_CANCELLED.
 */
export function cancel(id: TaskId<unknown>): Effect<void> {
  return new IdEffect(id, 'cancel');
}

/** Gives up the right to join a task: its result is dropped when it finishes. */
export function detach(id: TaskId<unknown>): Effect<void> {
  return new IdEffect(id, 'detach');
}

/** Parks this fiber until a promise settles, and returns its value (or throws its reason). */
export function until<T>(promise: PromiseLike<T>): Effect<T> {
  if (promise === null || typeof (promise as PromiseLike<T>)?.then !== 'function') {
    throw new WeftTypeError(ErrorCode.INVALID_ARGUMENT, 'until() needs a promise or thenable');
  }
  return new UntilEffect(promise);
}

/** The id of the task this code runs in; E_NOT_IN_FIBER outside a task. */
export function self(): TaskId {
  return requireFiber('self()').id as TaskId;
}
