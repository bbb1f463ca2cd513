/**
 * TimerTable: every pending timer's id, state and target, in shared memory.
 *
 * A TimerId is a SlotPool id (`version * 2**32 + slot`). Per slot there are two int32 words:
 *
 * - state: `version << 2 | phase`, phase SCHEDULED (1) or RUNNING (2); 0 once the slot is free.
 *   Cancelling CASes SCHEDULED → 0 and frees the slot at once, so a cancelled timer leaves
 *   nothing behind in the table (most timers are cancelled: RPC timeouts). Firing CASes
 *   SCHEDULED → RUNNING, so exactly one of a cancel and a fire wins, and `unschedule` can tell
 *   "removed" (0) from "running now" (1) from "gone" (-1), as brpc's TimerThread does.
 * - target: what firing does, `endpoint << 26 | token` (see timer-target.ts).
 *
 * The timer thread's heap keeps, with each entry, the state word it expects: an entry whose timer
 * was cancelled, or whose slot was reused since, no longer matches and is skipped.
 */
import { SlotPool } from '@weft/shm';

const SCHEDULED = 1;
const RUNNING = 2;

/** What `unschedule` reports: removed before running, running now, or not found / already fired. */
export type UnscheduleResult = 0 | 1 | -1;

export class TimerTable {
  readonly pool: SlotPool;
  readonly capacity: number;
  readonly #state: Int32Array;
  readonly #target: Int32Array;

  /** Bytes for `capacity` timers: the SlotPool's 12 per slot, plus 8. */
  static bytesFor(capacity: number): number {
    return SlotPool.bytesFor(capacity) + 8 * capacity;
  }

  /** Creates an empty table (the state words of a fresh buffer are zero). */
  static create(buffer: SharedArrayBuffer, byteOffset: number, capacity: number): void {
    SlotPool.create(buffer, byteOffset, capacity);
  }

  constructor(buffer: SharedArrayBuffer, byteOffset: number) {
    this.pool = SlotPool.attach(buffer, byteOffset);
    this.capacity = this.pool.capacity;
    const at = byteOffset + SlotPool.bytesFor(this.capacity);
    this.#state = new Int32Array(buffer, at, this.capacity);
    this.#target = new Int32Array(buffer, at + 4 * this.capacity, this.capacity);
  }

  /**
   * Takes a slot for a timer with `target` and returns its id (the state it is scheduled in is
   * `expectedState(id)`), or -1 when the table is full.
   */
  add(target: number): number {
    const id = this.pool.alloc();
    if (id === -1) return -1;
    const slot = id >>> 0;
    this.#target[slot] = target;
    Atomics.store(this.#state, slot, ((id - slot) / 2 ** 32) * 4 + SCHEDULED);
    return id;
  }

  /** The state word of a just-scheduled timer `id`. */
  expectedState(id: number): number {
    return ((id - (id >>> 0)) / 2 ** 32) * 4 + SCHEDULED;
  }

  /** Cancels timer `id`: 0 removed (it will not run), 1 running now, -1 not found or already fired. */
  cancel(id: number): UnscheduleResult {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 2 ** 32) return -1;
    const slot = id >>> 0;
    if (slot >= this.capacity) return -1;
    const scheduled = ((id - slot) / 2 ** 32) * 4 + SCHEDULED;
    const seen = Atomics.compareExchange(this.#state, slot, scheduled, 0);
    if (seen === scheduled) {
      this.pool.free(id);
      return 0;
    }
    return seen === scheduled - SCHEDULED + RUNNING ? 1 : -1;
  }

  /** Timer thread. Claims timer `slot` for firing if it is still in `expected`; returns its target. */
  claim(slot: number, expected: number): number {
    const running = expected - SCHEDULED + RUNNING;
    if (Atomics.compareExchange(this.#state, slot, expected, running) !== expected) return -1;
    return this.#target[slot];
  }

  /** Timer thread. Frees a fired timer's slot (its id goes stale: unschedule then says -1). */
  retire(slot: number, expected: number): void {
    Atomics.store(this.#state, slot, 0);
    this.pool.free(((expected - SCHEDULED) / 4) * 2 ** 32 + slot);
  }

  /** True while `expected` is still the state of `slot` (the timer was neither cancelled nor reused). */
  isCurrent(slot: number, expected: number): boolean {
    return Atomics.load(this.#state, slot) === expected;
  }
}
