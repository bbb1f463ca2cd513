/**
 * TaskTable: every task's state, in shared memory, one slot per task (brpc's TaskMeta).
 *
 * A TaskId is a SlotPool id (`version * 2**32 + slot`); the slot indexes a struct of arrays here:
 * which function, its arguments, where it runs, its result, who waits for it. Any thread can read
 * a task's state from its id, and a stale id is detected by its version, never misread.
 *
 * Lifetime. A slot is released when its reference count drops to zero. A new task starts with
 * two references: one held by its *execution* (dropped when it completes) and one by its *handle*
 * (the TaskId's right to the result, dropped by the first `join` to collect it, or by `detach`;
 * after either, a new join is E_STALE_ID, while joins already waiting still get the result).
 * Every `join`, `cancel` or `detach` in progress holds one more, taken with `acquire(id)`, so a
 * slot never disappears under a thread that is reading it. A finished task that nobody joins or
 * detaches keeps its slot (and its result) until someone does: the price of being able to join
 * late. When the table fills up, E_CAPACITY says so.
 *
 * Waiting. Each slot has a bit mask of endpoints (groups, and threads outside any group) that
 * have someone waiting for it. A waiter sets its bit, then checks the state; the task sets DONE,
 * then takes the mask. Atomics being sequentially consistent, either the waiter sees DONE or the
 * task sees the bit, so no wake-up is lost; a late bit is harmless (its notice finds no waiter).
 *
 * Arguments and results travel inline when they are numbers, booleans, null or undefined (up to
 * INLINE_ARGS arguments), otherwise as payloads in the PayloadStore (see value-codec.ts).
 */
import { alignToLine, ErrorCode, isWellFormedId, SlotPool, WeftError } from '@weft/shm';
import type { PayloadStore } from './payload-store.ts';
import {
  decodeError,
  decodeString,
  decodeStructured,
  encodeError,
  encodeString,
  encodeStructured,
  Inline,
  inlineKind,
  inlineValue,
  OutOfLine,
} from './value-codec.ts';

/** A task's progress: the low two bits of its status word. */
export const TaskState = {
  /** Spawned, not started: any group may take it. */
  QUEUED: 1,
  /** Started: a fiber pinned to the group in `home`. */
  RUNNING: 2,
  /** Finished: the result (or error) is in the slot. */
  DONE: 3,
} as const;

// A slot's status word packs everything that changes concurrently, so that each transition is
// one atomic operation that also reports the rest:
//   bits 0-1  state (TaskState); QUEUED → RUNNING → DONE are each +1, which commutes with the
//             reference adds, so starting and finishing are plain Atomics.add;
//   bits 2-3  the handle: OPEN, COLLECTED by a join, or DETACHED;
//   bit  4    cancel requested;
//   bits 5-30 the reference count.
const STATE_MASK = 3;
const HANDLE_MASK = 3 << 2;
const COLLECTED = 1 << 2;
const DETACHED = 2 << 2;
const CANCEL_BIT = 1 << 4;
const REF = 1 << 5;
const refsOf = (status: number) => status >>> 5;

/** Arguments carried inline, at most. */
export const INLINE_ARGS = 4;
const COUNT_BITS = 3;
const KIND_BITS = 3;
// argKind = count | kinds << COUNT_BITS, or OUT_OF_LINE_ARGS when the arguments are a payload.
const OUT_OF_LINE_ARGS = 7;
const NO_PAYLOAD = -1;

const INT_FIELDS = [
  'fn',
  'status',
  'home',
  'argKind',
  'resultKind',
  'argPayload',
  'resultPayload',
] as const;
type IntField = (typeof INT_FIELDS)[number];

function intArrayBytes(capacity: number): number {
  return alignToLine(capacity * 4);
}

export class TaskTable {
  readonly capacity: number;
  /** Int32 words of waiter mask per slot: one bit per endpoint. */
  readonly maskWords: number;
  readonly pool: SlotPool;
  readonly fn: Int32Array;
  /** Per slot: state, handle, cancel flag and reference count, packed (see above). */
  readonly status: Int32Array;
  readonly home: Int32Array;
  readonly argKind: Int32Array;
  readonly resultKind: Int32Array;
  readonly argPayload: Int32Array;
  readonly resultPayload: Int32Array;
  /** Each slot's TaskId, recorded at create (read without recomputing it from the pool). */
  readonly ids: Float64Array;
  readonly args: Float64Array;
  readonly result: Float64Array;
  readonly waiters: Int32Array;
  readonly #store: PayloadStore;
  readonly #names: readonly string[];
  /**
   * Applied to out-of-line arguments (the array) and results as they are read, with their bytes:
   * the runtime sets it to turn sync primitives (which travel as their ids) back into primitives
   * on the reading thread.
   */
  revive: (value: unknown, bytes: Uint8Array) => unknown = (value) => value;

  /** Bytes for `capacity` tasks with waiter masks for `endpoints` endpoints. */
  static bytesFor(capacity: number, endpoints: number): number {
    const maskWords = Math.ceil(endpoints / 32);
    return (
      alignToLine(SlotPool.bytesFor(capacity)) +
      INT_FIELDS.length * intArrayBytes(capacity) +
      alignToLine(capacity * 8 * INLINE_ARGS) +
      2 * alignToLine(capacity * 8) +
      alignToLine(capacity * 4 * maskWords)
    );
  }

  /** Creates an empty table: its SlotPool (the arrays of a fresh buffer start zeroed). */
  static create(buffer: SharedArrayBuffer, byteOffset: number, capacity: number): void {
    SlotPool.create(buffer, byteOffset, capacity);
  }

  /**
   * Attaches to the table at `byteOffset`. `names` are the catalog's task names (for messages);
   * `store` holds out-of-line arguments and results.
   */
  constructor(
    buffer: SharedArrayBuffer,
    byteOffset: number,
    endpoints: number,
    store: PayloadStore,
    names: readonly string[],
  ) {
    this.pool = SlotPool.attach(buffer, byteOffset);
    const capacity = this.pool.capacity;
    this.capacity = capacity;
    this.maskWords = Math.ceil(endpoints / 32);
    this.#store = store;
    this.#names = names;
    let at = byteOffset + alignToLine(SlotPool.bytesFor(capacity));
    const ints = {} as Record<IntField, Int32Array>;
    for (const field of INT_FIELDS) {
      ints[field] = new Int32Array(buffer, at, capacity);
      at += intArrayBytes(capacity);
    }
    this.fn = ints.fn;
    this.status = ints.status;
    this.home = ints.home;
    this.argKind = ints.argKind;
    this.resultKind = ints.resultKind;
    this.argPayload = ints.argPayload;
    this.resultPayload = ints.resultPayload;
    this.args = new Float64Array(buffer, at, capacity * INLINE_ARGS);
    at += alignToLine(capacity * 8 * INLINE_ARGS);
    this.result = new Float64Array(buffer, at, capacity);
    at += alignToLine(capacity * 8);
    this.ids = new Float64Array(buffer, at, capacity);
    at += alignToLine(capacity * 8);
    this.waiters = new Int32Array(buffer, at, capacity * this.maskWords);
  }

  /** The name of task function `fnId`, for messages. */
  nameOf(fnId: number): string {
    return this.#names[fnId] ?? `#${fnId}`;
  }

  /**
   * Allocates a slot for a new, queued task of `fnId` with `args`, and returns its id.
   * E_CAPACITY when the table or the payload store is full; E_NOT_CLONEABLE for bad arguments.
   * The slot is not yet visible to other threads: publish its slot index through a queue.
   */
  create(fnId: number, args: readonly unknown[]): number {
    const id = this.pool.alloc();
    if (id === -1) {
      throw new WeftError(
        ErrorCode.CAPACITY,
        `the task table is full: all ${this.capacity} slots hold tasks that are queued, ` +
          'running, or finished but not yet joined or detached; join or detach finished tasks, ' +
          'or raise the `maxTasks` option',
      );
    }
    const slot = id >>> 0;
    try {
      this.#writeArgs(slot, fnId, args);
    } catch (error) {
      this.pool.free(id);
      throw error;
    }
    this.fn[slot] = fnId;
    this.ids[slot] = id;
    this.home[slot] = -1;
    this.resultKind[slot] = Inline.UNDEFINED;
    this.resultPayload[slot] = NO_PAYLOAD;
    for (let word = 0; word < this.maskWords; word++)
      this.waiters[slot * this.maskWords + word] = 0;
    Atomics.store(this.status, slot, TaskState.QUEUED + 2 * REF); // execution + handle
    return id;
  }

  #writeArgs(slot: number, fnId: number, args: readonly unknown[]): void {
    if (args.length <= INLINE_ARGS) {
      let kinds = 0;
      let i = 0;
      for (; i < args.length; i++) {
        const kind = inlineKind(args[i]);
        if (kind < 0) break;
        kinds |= kind << (KIND_BITS * i);
        this.args[slot * INLINE_ARGS + i] = kind === Inline.NUMBER ? (args[i] as number) : 0;
      }
      if (i === args.length) {
        this.argKind[slot] = args.length | (kinds << COUNT_BITS);
        this.argPayload[slot] = NO_PAYLOAD;
        return;
      }
    }
    const bytes = encodeStructured(args, `an argument of task "${this.nameOf(fnId)}"`);
    this.argKind[slot] = OUT_OF_LINE_ARGS;
    this.argPayload[slot] = this.#writePayload(
      bytes,
      `the arguments of task "${this.nameOf(fnId)}"`,
    );
  }

  /**
   * Calls `fn` with the arguments of the task in `slot`, consuming them. Inline arguments are
   * passed straight from the slot, without building an array.
   */
  call(slot: number, fn: (...args: unknown[]) => unknown): unknown {
    const argKind = this.argKind[slot];
    if (argKind === OUT_OF_LINE_ARGS) return fn(...this.takeArgs(slot));
    const arg = (i: number) =>
      inlineValue(
        (argKind >>> (COUNT_BITS + KIND_BITS * i)) & ((1 << KIND_BITS) - 1),
        this.args[slot * INLINE_ARGS + i],
      );
    switch (argKind & ((1 << COUNT_BITS) - 1)) {
      case 0:
        return fn();
      case 1:
        return fn(arg(0));
      case 2:
        return fn(arg(0), arg(1));
      case 3:
        return fn(arg(0), arg(1), arg(2));
      default:
        return fn(arg(0), arg(1), arg(2), arg(3));
    }
  }

  /** The arguments of the task in `slot`; frees their payload (a task reads them once). */
  takeArgs(slot: number): unknown[] {
    const argKind = this.argKind[slot];
    if (argKind !== OUT_OF_LINE_ARGS) {
      const count = argKind & ((1 << COUNT_BITS) - 1);
      const args = new Array<unknown>(count);
      for (let i = 0; i < count; i++) {
        const kind = (argKind >>> (COUNT_BITS + KIND_BITS * i)) & ((1 << KIND_BITS) - 1);
        args[i] = inlineValue(kind, this.args[slot * INLINE_ARGS + i]);
      }
      return args;
    }
    const handle = this.argPayload[slot];
    const args = this.#store.read(handle, this.#decode) as unknown[];
    this.#store.free(handle);
    this.argPayload[slot] = NO_PAYLOAD;
    return args;
  }

  /**
   * Records the task's return value. A value that cannot be copied becomes an E_NOT_CLONEABLE
   * error result instead.
   */
  writeResult(slot: number, value: unknown): void {
    const kind = inlineKind(value);
    if (kind >= 0) {
      this.resultKind[slot] = kind;
      if (kind === Inline.NUMBER) this.result[slot] = value as number;
      return;
    }
    const what = `the result of task "${this.nameOf(this.fn[slot])}"`;
    try {
      if (typeof value === 'string') {
        this.resultPayload[slot] = this.#writePayload(encodeString(value), what);
        this.resultKind[slot] = OutOfLine.STRING;
      } else {
        this.resultPayload[slot] = this.#writePayload(encodeStructured(value, what), what);
        this.resultKind[slot] = OutOfLine.STRUCTURED;
      }
    } catch (error) {
      this.writeError(slot, error);
    }
  }

  /** Records that the task failed with `thrown`. */
  writeError(slot: number, thrown: unknown): void {
    const bytes = encodeError(thrown);
    const handle = this.#store.write(bytes);
    // With no room for the error, readResult reports that instead (NO_PAYLOAD).
    this.resultPayload[slot] = handle;
    this.resultKind[slot] = OutOfLine.ERROR;
  }

  /** True when the task in `slot` failed (its result is an error). */
  failed(slot: number): boolean {
    return this.resultKind[slot] === OutOfLine.ERROR;
  }

  /** The finished task's result; throws the task's error if it failed. Does not consume it. */
  readResult(slot: number): unknown {
    const kind = this.resultKind[slot];
    if (kind <= Inline.NUMBER) return inlineValue(kind, this.result[slot]);
    const handle = this.resultPayload[slot];
    if (kind === OutOfLine.STRING) return this.#store.read(handle, decodeString);
    if (kind === OutOfLine.STRUCTURED) return this.#store.read(handle, this.#decode);
    if (handle === NO_PAYLOAD) {
      throw new WeftError(
        ErrorCode.CAPACITY,
        `task "${this.nameOf(this.fn[slot])}" failed, and its error did not fit in the payload ` +
          'store; raise the `payloadBytes` option',
      );
    }
    throw this.#store.read(handle, decodeError);
  }

  readonly #decode = (bytes: Uint8Array): unknown => this.revive(decodeStructured(bytes), bytes);

  #writePayload(bytes: Uint8Array, what: string): number {
    const handle = this.#store.write(bytes);
    if (handle === NO_PAYLOAD) {
      throw new WeftError(
        ErrorCode.CAPACITY,
        `the payload store is full: no room for ${what} (${bytes.length} bytes); ` +
          'join finished tasks to free their results, or raise the `payloadBytes` option',
      );
    }
    return handle;
  }

  /**
   * Takes a reference to the task `id` names, for a join, cancel or detach in progress. Returns
   * its slot, or -1 if the id is stale, foreign or already collected.
   */
  acquire(id: number): number {
    return this.#acquire(id, false);
  }

  /**
   * Like `acquire`, for a new join: also -1 once the result was collected or the task detached
   * (joins that were already waiting then still get the result).
   */
  acquireForJoin(id: number): number {
    return this.#acquire(id, true);
  }

  #acquire(id: number, needOpenHandle: boolean): number {
    if (!isWellFormedId(id)) return -1;
    const slot = id >>> 0;
    if (slot >= this.capacity) return -1;
    for (;;) {
      const status = Atomics.load(this.status, slot);
      if (refsOf(status) === 0) return -1; // free, or being released
      if (needOpenHandle && (status & HANDLE_MASK) !== 0) return -1;
      if (Atomics.compareExchange(this.status, slot, status, status + REF) === status) break;
    }
    // The slot may have been released and reused between the id check and the increment.
    if (this.pool.resolve(id) !== slot) {
      this.release(slot);
      return -1;
    }
    return slot;
  }

  /**
   * Detaches task `id`: its result will be dropped when it finishes. False for a stale id, or one
   * whose result was already collected or detached.
   */
  detach(id: number): boolean {
    const slot = this.acquire(id);
    if (slot < 0) return false;
    return this.#dropHandle(slot, DETACHED);
  }

  /**
   * After reading a finished task's result: drops the reader's reference, and the handle's too
   * when this reader is the first to collect (in one atomic operation).
   */
  releaseCollected(slot: number): void {
    this.#dropHandle(slot, COLLECTED);
  }

  // Drops the caller's reference, and the handle's with it if the handle is still OPEN (marking
  // it `mark`); true if the handle was open.
  #dropHandle(slot: number, mark: number): boolean {
    for (;;) {
      const status = Atomics.load(this.status, slot);
      const open = (status & HANDLE_MASK) === 0;
      const next = open ? (status | mark) - 2 * REF : status - REF;
      if (Atomics.compareExchange(this.status, slot, status, next) !== status) continue;
      if (refsOf(next) === 0) this.#free(slot);
      return open;
    }
  }

  /** Drops `count` references (default 1); the last one frees the payloads and the slot. */
  release(slot: number, count = 1): void {
    if (refsOf(Atomics.sub(this.status, slot, count * REF)) === count) this.#free(slot);
  }

  #free(slot: number): void {
    if (this.argPayload[slot] !== NO_PAYLOAD) this.#store.free(this.argPayload[slot]);
    if (this.resultPayload[slot] !== NO_PAYLOAD) this.#store.free(this.resultPayload[slot]);
    this.argPayload[slot] = NO_PAYLOAD;
    this.resultPayload[slot] = NO_PAYLOAD;
    this.pool.free(this.ids[slot]);
  }

  /** The state of the task in `slot` (TaskState). */
  stateOf(slot: number): number {
    return Atomics.load(this.status, slot) & STATE_MASK;
  }

  /**
   * Marks the queued task in `slot` RUNNING (on group `home`); true if a cancel was requested
   * before it started. The starter writes RUNNING and reads the flag in one operation, and a
   * canceller sets the flag and reads the state in one: one of them sees the other.
   */
  begin(slot: number, home: number): boolean {
    this.home[slot] = home;
    return (Atomics.add(this.status, slot, 1) & CANCEL_BIT) !== 0;
  }

  /**
   * Flags the task in `slot` (held by the caller) cancelled; returns its state when flagged: a
   * RUNNING task's group must be told, a QUEUED one will see the flag when it starts.
   */
  flagCancel(slot: number): number {
    return Atomics.or(this.status, slot, CANCEL_BIT) & STATE_MASK;
  }

  /**
   * Registers `endpoint` as waiting for the task in `slot`. False if the task is already done
   * (nothing to wait for); true if the endpoint will get a notice when it finishes.
   */
  addWaiter(slot: number, endpoint: number): boolean {
    if (this.stateOf(slot) === TaskState.DONE) return false;
    Atomics.or(this.waiters, slot * this.maskWords + (endpoint >>> 5), 1 << (endpoint & 31));
    return this.stateOf(slot) !== TaskState.DONE;
  }

  /**
   * Marks the running task in `slot` DONE, drops its execution's reference (one atomic
   * operation), and calls `notify(endpoint, slot)` for every endpoint waiting for it. The mask is
   * only read: a task finishes once, and a bit set after this read belongs to a waiter that sees
   * DONE itself. If that was the last reference, nobody waits: the slot is freed instead.
   */
  finish(slot: number, notify: (endpoint: number, slot: number) => void): void {
    const before = Atomics.add(this.status, slot, 1 - REF);
    if (refsOf(before) === 1) {
      this.#free(slot);
      return;
    }
    const base = slot * this.maskWords;
    for (let word = 0; word < this.maskWords; word++) {
      let mask = Atomics.load(this.waiters, base + word);
      while (mask !== 0) {
        const bit = 31 - Math.clz32(mask);
        mask &= ~(1 << bit);
        notify(word * 32 + bit, slot);
      }
    }
  }
}
