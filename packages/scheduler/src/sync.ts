/**
 * Mutex, CondVar and CountdownEvent: synchronization for fibers on any group, and threads.
 *
 * Each is a butex (see butex-table.ts) with brpc's algorithms on top. A fiber that must wait
 * parks — its group keeps running other fibers — and a thread that must wait sleeps in
 * `Atomics.waitAsync`. The waiting operations (`lock`, `wait`) are Operations: `yield*` them in
 * a generator task, `await` them in an async task or outside any task.
 *
 * A primitive is named by its butex id, so it can be passed to tasks as an argument (or returned
 * as a result): it arrives as a primitive of the same kind, bound to the receiving thread. Create
 * one inside a task with `Mutex.create()`, outside with `Mutex.create(scheduler)`; `destroy()`
 * (or `using`) frees its butex, after which using it is E_STALE_ID.
 */
import { ErrorCode, requireInteger, type WaitResult, WeftError } from '@weft/shm';
import type { ControlBlock } from './control-block.ts';
import { Effect, type EffectHost, Operation, type Step } from './effects.ts';
import { currentFiber, type Fiber } from './fiber.ts';
import { localGroupOf } from './task-group.ts';

// The ControlBlock behind each Scheduler on this thread (registered by the Scheduler).
const schedulerBlocks = new WeakMap<object, ControlBlock>();

/** Lets `Mutex.create(scheduler)` and friends find the scheduler's shared state. */
export function registerScheduler(scheduler: object, block: ControlBlock): void {
  schedulerBlocks.set(scheduler, block);
}

function blockFor(scheduler: object | undefined, what: string): ControlBlock {
  const block =
    scheduler === undefined ? currentFiber()?.host.block : schedulerBlocks.get(scheduler);
  if (block === undefined) {
    throw new WeftError(
      scheduler === undefined ? ErrorCode.NOT_IN_FIBER : ErrorCode.INVALID_ARGUMENT,
      scheduler === undefined
        ? `${what}() without a scheduler works only inside a task; outside, pass the Scheduler`
        : `${what}() needs a Scheduler returned by Scheduler.start`,
    );
  }
  return block;
}

// Parks the caller until butex `slot` is woken, unless its value is no longer `expected`.
class ButexWaitEffect extends Effect<WaitResult> {
  readonly #block: ControlBlock;
  readonly #slot: number;
  readonly #expected: number;
  readonly #timeout: number | undefined;

  constructor(block: ControlBlock, slot: number, expected: number, timeout: number | undefined) {
    super();
    this.#block = block;
    this.#slot = slot;
    this.#expected = expected;
    this.#timeout = timeout;
  }

  perform(host: EffectHost, fiber: Fiber): Step {
    return host.butexWait(fiber, this.#slot, this.#expected, this.#timeout);
  }

  // Outside a fiber (a thread awaiting the operation), wait the futex way.
  // biome-ignore lint/suspicious/noThenProperty: effects are deliberately thenables.
  override then<A = WaitResult, B = never>(
    onFulfilled?: ((value: WaitResult) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    if (currentFiber() !== undefined) return super.then(onFulfilled, onRejected);
    return this.#block.butexes
      .futex(this.#slot)
      .waitAsync(this.#expected, this.#timeout)
      .then(onFulfilled, onRejected);
  }
}

/** Options of a timed wait. */
export interface WaitOptions {
  /** Give up after this many milliseconds. */
  timeout?: number;
}

/** What the primitives share: a butex, found again from its id on any thread. */
abstract class SyncPrimitive {
  /** The butex id (a versioned slot id): what travels when the primitive is passed to a task. */
  readonly id: number;
  /** Which kind of primitive this is (kept when passed to a task). */
  readonly __weftSync: string;
  readonly #block: ControlBlock;

  protected constructor(kind: string, id: number, block: ControlBlock) {
    this.__weftSync = kind;
    this.id = id;
    this.#block = block;
  }

  protected static allocate(block: ControlBlock, value: number): number {
    const id = block.butexes.alloc(value);
    if (id === -1) {
      throw new WeftError(
        ErrorCode.CAPACITY,
        `no butex left for a new Mutex, CondVar or CountdownEvent: all ${block.butexes.capacity} ` +
          'are in use; destroy() unused ones, or raise the `maxButexes` option',
      );
    }
    return id;
  }

  /** The butex's slot; E_STALE_ID once destroyed. */
  protected slot(): number {
    const slot = this.#block.butexes.pool.resolve(this.id);
    if (slot < 0) {
      throw new WeftError(ErrorCode.STALE_ID, `this ${this.__weftSync} was destroyed`);
    }
    return slot;
  }

  protected get words(): Int32Array {
    return this.#block.butexes.words;
  }

  /** Parks until woken, unless the value is no longer `expected`. */
  protected park(slot: number, expected: number, timeout?: number): ButexWaitEffect {
    return new ButexWaitEffect(this.#block, slot, expected, timeout);
  }

  /** Wakes one waiter (or all), after the caller changed the value. */
  protected wake(slot: number, all: boolean): void {
    this.#block.butexes.wake(slot, all, localGroupOf(this.#block));
  }

  /** Frees the butex. Waiters still parked on it are not woken: destroy only unused primitives. */
  destroy(): void {
    this.#block.butexes.pool.free(this.id);
  }

  [Symbol.dispose](): void {
    this.destroy();
  }
}

const UNLOCKED = 0;
const LOCKED = 1;
const CONTENDED = 2;

/**
 * A mutual-exclusion lock for fibers and threads (the futex mutex of Drepper's "Futexes Are
 * Tricky", as brpc's bthread_mutex): 0 unlocked, 1 locked, 2 locked with waiters, so an uncontended
 * lock and unlock are one atomic operation each and wake nobody.
 */
export class Mutex extends SyncPrimitive {
  /** A new, unlocked mutex: inside a task, or outside with the scheduler. */
  static create(scheduler?: object): Mutex {
    const block = blockFor(scheduler, 'Mutex.create');
    return new Mutex(SyncPrimitive.allocate(block, UNLOCKED), block);
  }

  private constructor(id: number, block: ControlBlock) {
    super('Mutex', id, block);
  }

  /** Takes the lock, parking until it is free. */
  lock(): Operation<void> {
    return new Operation(() => this.#lock());
  }

  *#lock(): Generator<Effect<unknown>, void, unknown> {
    const slot = this.slot();
    const words = this.words;
    let state = Atomics.compareExchange(words, 2 * slot, UNLOCKED, LOCKED);
    if (state === UNLOCKED) return;
    if (state !== CONTENDED) state = Atomics.exchange(words, 2 * slot, CONTENDED);
    while (state !== UNLOCKED) {
      yield this.park(slot, CONTENDED);
      state = Atomics.exchange(words, 2 * slot, CONTENDED);
    }
  }

  /** Takes the lock if it is free; never waits. */
  tryLock(): boolean {
    const slot = this.slot();
    return Atomics.compareExchange(this.words, 2 * slot, UNLOCKED, LOCKED) === UNLOCKED;
  }

  /** Releases the lock, waking one waiter if there are any. E_NOT_LOCKED if it was not locked. */
  unlock(): void {
    const slot = this.slot();
    const words = this.words;
    const previous = Atomics.sub(words, 2 * slot, 1);
    if (previous === LOCKED) return;
    if (previous === UNLOCKED) {
      Atomics.store(words, 2 * slot, UNLOCKED);
      throw new WeftError(ErrorCode.NOT_LOCKED, 'unlock() of a Mutex that is not locked');
    }
    Atomics.store(words, 2 * slot, UNLOCKED);
    this.wake(slot, false);
  }
}

/**
 * A condition variable: `wait(mutex)` releases the mutex, parks until signalled, and takes the
 * mutex again. Waits can wake spuriously, as with every condition variable: re-check the
 * condition in a loop.
 */
export class CondVar extends SyncPrimitive {
  /** A new condition variable: inside a task, or outside with the scheduler. */
  static create(scheduler?: object): CondVar {
    const block = blockFor(scheduler, 'CondVar.create');
    return new CondVar(SyncPrimitive.allocate(block, 0), block);
  }

  private constructor(id: number, block: ControlBlock) {
    super('CondVar', id, block);
  }

  /** Releases `mutex`, waits for a signal (or the timeout), retakes `mutex`; false on timeout. */
  wait(mutex: Mutex, options?: WaitOptions): Operation<boolean> {
    return new Operation(() => this.#wait(mutex, options?.timeout));
  }

  *#wait(mutex: Mutex, timeout: number | undefined): Generator<Effect<unknown>, boolean, unknown> {
    const slot = this.slot();
    const sequence = Atomics.load(this.words, 2 * slot);
    mutex.unlock();
    let result: unknown;
    try {
      result = yield this.park(slot, sequence, timeout);
    } finally {
      yield* mutex.lock();
    }
    return result !== 'timed-out';
  }

  /** Wakes one waiter. */
  signal(): void {
    const slot = this.slot();
    Atomics.add(this.words, 2 * slot, 1);
    this.wake(slot, false);
  }

  /** Wakes every waiter. */
  broadcast(): void {
    const slot = this.slot();
    Atomics.add(this.words, 2 * slot, 1);
    this.wake(slot, true);
  }
}

/** A counter that waiters wait on until it reaches zero (brpc's CountdownEvent). */
export class CountdownEvent extends SyncPrimitive {
  /** A new event counting down from `count`: inside a task, or outside with the scheduler. */
  static create(count: number, scheduler?: object): CountdownEvent {
    requireInteger(count, 0, 2 ** 31 - 1, 'CountdownEvent count');
    const block = blockFor(scheduler, 'CountdownEvent.create');
    return new CountdownEvent(SyncPrimitive.allocate(block, count), block);
  }

  private constructor(id: number, block: ControlBlock) {
    super('CountdownEvent', id, block);
  }

  /** What is left to count down (0 or less: waiters are free). */
  get count(): number {
    return Atomics.load(this.words, 2 * this.slot());
  }

  /** Counts down by `n` (default 1); reaching zero wakes every waiter. */
  countDown(n = 1): void {
    requireInteger(n, 1, 2 ** 31 - 1, 'countDown amount');
    const slot = this.slot();
    if (Atomics.sub(this.words, 2 * slot, n) - n <= 0) this.wake(slot, true);
  }

  /** Waits until the count reaches zero (or the timeout); false on timeout. */
  wait(options?: WaitOptions): Operation<boolean> {
    return new Operation(() => this.#wait(options?.timeout));
  }

  *#wait(timeout: number | undefined): Generator<Effect<unknown>, boolean, unknown> {
    const slot = this.slot();
    const deadline = timeout === undefined ? undefined : performance.now() + timeout;
    for (;;) {
      const count = Atomics.load(this.words, 2 * slot);
      if (count <= 0) return true;
      const left = deadline === undefined ? undefined : Math.max(0, deadline - performance.now());
      if ((yield this.park(slot, count, left)) === 'timed-out') return false;
    }
  }
}

/**
 * An event count: a sequence number that fibers and threads wait on to change. A waiter reads
 * `sequence`, checks its condition, and waits with what it read; `notify` bumps the number and
 * wakes the waiters, so a notify between the read and the wait is never lost. For layers above
 * the scheduler that need "wait until there is room" across threads.
 */
export class Notifier extends SyncPrimitive {
  /** A new notifier: inside a task, or outside with the scheduler. */
  static create(scheduler?: object): Notifier {
    const block = blockFor(scheduler, 'Notifier.create');
    return new Notifier(SyncPrimitive.allocate(block, 0), block);
  }

  /**
   * The notifier `id` (another notifier's `id`, carried as a number) bound to this thread: inside
   * a task, or outside with the scheduler. E_STALE_ID on use if it was destroyed.
   */
  static attach(id: number, scheduler?: object): Notifier {
    requireInteger(id, 0, Number.MAX_SAFE_INTEGER, 'Notifier id');
    return new Notifier(id, blockFor(scheduler, 'Notifier.attach'));
  }

  private constructor(id: number, block: ControlBlock) {
    super('Notifier', id, block);
  }

  /** The current sequence number. */
  get sequence(): number {
    return Atomics.load(this.words, 2 * this.slot());
  }

  /** Waits until the sequence is no longer `seen` (or the timeout); false on timeout. */
  wait(seen: number, options?: WaitOptions): Operation<boolean> {
    return new Operation(() => this.#wait(seen, options?.timeout));
  }

  *#wait(seen: number, timeout: number | undefined): Generator<Effect<unknown>, boolean, unknown> {
    const slot = this.slot();
    if (Atomics.load(this.words, 2 * slot) !== seen) return true;
    return (yield this.park(slot, seen, timeout)) !== 'timed-out';
  }

  /** Bumps the sequence and wakes every waiter. */
  notify(): void {
    const slot = this.slot();
    Atomics.add(this.words, 2 * slot, 1);
    this.wake(slot, true);
  }
}

const kinds = { Mutex, CondVar, CountdownEvent, Notifier } as const;
const MARKER = '__weftSync';

function revivePrimitive(value: { __weftSync: string; id: number }, block: ControlBlock): unknown {
  const Kind = kinds[value.__weftSync as keyof typeof kinds];
  if (Kind === undefined || typeof value.id !== 'number') return value;
  // The constructors are private to keep creation on `create`; reviving rebinds an existing id.
  return new (Kind as unknown as new (id: number, block: ControlBlock) => SyncPrimitive)(
    value.id,
    block,
  );
}

function reviveDeep(value: unknown, block: ControlBlock): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (MARKER in value) return revivePrimitive(value as { __weftSync: string; id: number }, block);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = reviveDeep(value[i], block);
  } else if (value instanceof Map) {
    for (const [key, entry] of value) value.set(key, reviveDeep(entry, block));
  } else if (value instanceof Set) {
    const entries = [...value];
    value.clear();
    for (const entry of entries) value.add(reviveDeep(entry, block));
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) record[key] = reviveDeep(record[key], block);
  }
  return value;
}

/**
 * Turns the primitives inside a value that arrived as task arguments or a result (plain
 * `{ __weftSync, id }` objects after structured clone) back into primitives bound to `block`.
 * Only values whose bytes mention the marker are walked, so other values cost one byte search.
 */
export function reviveSyncPrimitives(
  value: unknown,
  bytes: Uint8Array,
  block: ControlBlock,
): unknown {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return view.includes(MARKER) ? reviveDeep(value, block) : value;
}
