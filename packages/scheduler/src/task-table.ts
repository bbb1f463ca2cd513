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
import { alignToLine, ErrorCode, SlotPool, WeftError } from '@weft/shm';
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

/** A task's progress. */
export const TaskState = {
  /** Spawned, not started: any group may take it. */
  QUEUED: 1,
  /** Started: a fiber pinned to the group in `home`. */
  RUNNING: 2,
  /** Finished: the result (or error) is in the slot. */
  DONE: 3,
} as const;

/** The handle's state: nobody has collected the result yet, a join has, or it was detached. */
const Handle = { OPEN: 0, COLLECTED: 1, DETACHED: 2 } as const;

/** Arguments carried inline, at most. */
export const INLINE_ARGS = 4;
const COUNT_BITS = 3;
const KIND_BITS = 3;
// argKind = count | kinds << COUNT_BITS, or OUT_OF_LINE_ARGS when the arguments are a payload.
const OUT_OF_LINE_ARGS = 7;
const NO_PAYLOAD = -1;

const INT_FIELDS = [
  'fn',
  'state',
  'home',
  'refs',
  'handle',
  'cancel',
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
  readonly state: Int32Array;
  readonly home: Int32Array;
  readonly refs: Int32Array;
  readonly handle: Int32Array;
  readonly cancel: Int32Array;
  readonly argKind: Int32Array;
  readonly resultKind: Int32Array;
  readonly argPayload: Int32Array;
  readonly resultPayload: Int32Array;
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
      alignToLine(capacity * 8) +
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
    this.state = ints.state;
    this.home = ints.home;
    this.refs = ints.refs;
    this.handle = ints.handle;
    this.cancel = ints.cancel;
    this.argKind = ints.argKind;
    this.resultKind = ints.resultKind;
    this.argPayload = ints.argPayload;
    this.resultPayload = ints.resultPayload;
    this.args = new Float64Array(buffer, at, capacity * INLINE_ARGS);
    at += alignToLine(capacity * 8 * INLINE_ARGS);
    this.result = new Float64Array(buffer, at, capacity);
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
    const slot = id % 2 ** 32;
    try {
      this.#writeArgs(slot, fnId, args);
    } catch (error) {
      this.pool.free(id);
      throw error;
    }
    this.fn[slot] = fnId;
    this.home[slot] = -1;
    this.handle[slot] = 0;
    this.cancel[slot] = 0;
    this.resultKind[slot] = Inline.UNDEFINED;
    this.resultPayload[slot] = NO_PAYLOAD;
    for (let word = 0; word < this.maskWords; word++)
      this.waiters[slot * this.maskWords + word] = 0;
    Atomics.store(this.state, slot, TaskState.QUEUED);
    Atomics.store(this.refs, slot, 2); // execution + handle
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
    const slot = this.pool.resolve(id);
    if (slot < 0) return -1;
    for (;;) {
      const refs = Atomics.load(this.refs, slot);
      if (refs === 0) return -1; // being released
      if (Atomics.compareExchange(this.refs, slot, refs, refs + 1) === refs) break;
    }
    // The slot may have been released and reused between resolve and the increment.
    if (this.pool.resolve(id) !== slot) {
      this.release(slot);
      return -1;
    }
    return slot;
  }

  /**
   * Like `acquire`, for a new join: also -1 once the result was collected or the task detached
   * (joins that were already waiting then still get the result).
   */
  acquireForJoin(id: number): number {
    const slot = this.acquire(id);
    if (slot >= 0 && Atomics.load(this.handle, slot) !== Handle.OPEN) {
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
    const open =
      Atomics.compareExchange(this.handle, slot, Handle.OPEN, Handle.DETACHED) === Handle.OPEN;
    this.release(slot, open ? 2 : 1);
    return open;
  }

  /** Drops `count` references (default 1); the last one frees the payloads and the slot. */
  release(slot: number, count = 1): void {
    if (Atomics.sub(this.refs, slot, count) !== count) return;
    if (this.argPayload[slot] !== NO_PAYLOAD) this.#store.free(this.argPayload[slot]);
    if (this.resultPayload[slot] !== NO_PAYLOAD) this.#store.free(this.resultPayload[slot]);
    this.argPayload[slot] = NO_PAYLOAD;
    this.resultPayload[slot] = NO_PAYLOAD;
    this.pool.free(this.pool.idAt(slot));
  }

  /**
   * Registers `endpoint` as waiting for the task in `slot`. False if the task is already done
   * (nothing to wait for); true if the endpoint will get a notice when it finishes.
   */
  addWaiter(slot: number, endpoint: number): boolean {
    if (Atomics.load(this.state, slot) === TaskState.DONE) return false;
    Atomics.or(this.waiters, slot * this.maskWords + (endpoint >>> 5), 1 << (endpoint & 31));
    return Atomics.load(this.state, slot) !== TaskState.DONE;
  }

  /**
   * After reading a finished task's result: drops the reader's reference, and the handle's too
   * when this reader is the first to collect (in one atomic operation).
   */
  releaseCollected(slot: number): void {
    const first =
      Atomics.compareExchange(this.handle, slot, Handle.OPEN, Handle.COLLECTED) === Handle.OPEN;
    this.release(slot, first ? 2 : 1);
  }

  /**
   * Marks the task done and calls `notify(endpoint, slot)` for every endpoint waiting for it. The
   * mask is only read: the task finishes once, so nobody else notifies from it, and a bit set
   * after this read belongs to a waiter that will see DONE itself.
   */
  finish(slot: number, notify: (endpoint: number, slot: number) => void): void {
    Atomics.store(this.state, slot, TaskState.DONE);
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
