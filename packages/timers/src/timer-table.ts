/**
 * TimerTable: every pending timer's id, phase and target, in shared memory.
 *
 * A TimerId is a SlotPool id (`version * 2**32 + slot`), and the timer's lifecycle is the slot's
 * phase in the pool's own state word, `version << 2 | phase`: SCHEDULED (1), then RUNNING (2)
 * while the timer thread fires it. One CAS on that word does each step, with the version check
 * included:
 *
 * - cancelling frees a SCHEDULED slot at once, so a cancelled timer leaves nothing behind in the
 *   table (most timers are cancelled: RPC timeouts);
 * - firing moves SCHEDULED to RUNNING, so exactly one of a cancel and a fire wins, and
 *   `unschedule` can tell "removed" (0) from "running now" (1) from "gone" (-1), as brpc's
 *   TimerThread does; then it frees the RUNNING slot.
 *
 * Beside the pool, one int32 per slot holds what firing does, `endpoint << 25 | token` (see
 * timer-target.ts): 16 bytes a slot in all. The timer thread's heap keeps each entry's id: an
 * entry whose timer was cancelled, or whose slot was reused since, no longer matches and is
 * skipped.
 */
import { SlotPool } from '@weft/shm';

const SCHEDULED = 1;
const RUNNING = 2;

/** What `unschedule` reports: removed before running, running now, or not found / already fired. */
export type UnscheduleResult = 0 | 1 | -1;

export class TimerTable {
  readonly pool: SlotPool;
  readonly capacity: number;
  readonly #target: Int32Array;

  /** Bytes for `capacity` timers: the SlotPool's 12 per slot, plus 4. */
  static bytesFor(capacity: number): number {
    return SlotPool.bytesFor(capacity) + 4 * capacity;
  }

  /** Creates an empty table. */
  static create(buffer: SharedArrayBuffer, byteOffset: number, capacity: number): void {
    SlotPool.create(buffer, byteOffset, capacity);
  }

  constructor(buffer: SharedArrayBuffer, byteOffset: number) {
    this.pool = SlotPool.attach(buffer, byteOffset);
    this.capacity = this.pool.capacity;
    this.#target = new Int32Array(
      buffer,
      byteOffset + SlotPool.bytesFor(this.capacity),
      this.capacity,
    );
  }

  /**
   * Takes a slot for a timer with `target` and returns its id, or -1 when the table is full. The
   * target is written with a plain store: other threads learn the id only through a later
   * synchronizing write (the bucket's), which publishes it.
   */
  add(target: number): number {
    const id = this.pool.alloc(SCHEDULED);
    if (id !== -1) this.#target[id >>> 0] = target;
    return id;
  }

  /** Cancels timer `id`: 0 removed (it will not run), 1 running now, -1 not found or already fired. */
  cancel(id: number): UnscheduleResult {
    if (this.pool.free(id, SCHEDULED)) return 0;
    return this.pool.phaseOf(id) === RUNNING ? 1 : -1;
  }

  /** Timer thread. Claims timer `id` for firing if it is still scheduled; returns its target or -1. */
  claim(id: number): number {
    return this.pool.setPhase(id, SCHEDULED, RUNNING) ? this.#target[id >>> 0] : -1;
  }

  /** Timer thread. Frees a fired timer's slot (its id goes stale: unschedule then says -1). */
  retire(id: number): void {
    this.pool.free(id, RUNNING);
  }

  /** True while timer `id` is scheduled (neither cancelled, nor fired, nor its slot reused). */
  isScheduled(id: number): boolean {
    return this.pool.phaseOf(id) === SCHEDULED;
  }
}
