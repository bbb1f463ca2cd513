/**
 * TimerRing: a bucket of newly scheduled timers that several threads share, on their way to the
 * timer thread (hashed buckets, and per-thread mode's ring for latecomers; a bucket one thread
 * owns is an OwnedTimerRing, which needs no CAS).
 *
 * Producers (any thread) push (timer id, deadline) records; the timer thread drains them into its
 * heap. It is @weft/shm's MpscQueue algorithm (Dmitry Vyukov's bounded queue, one sequence number
 * per cell) with a wider cell — sequence, id and deadline in 24 bytes — because the deadline
 * travels here rather than in the timer table: it is needed once, by the timer thread, and
 * keeping it out of the table saves 8 bytes per pending timer. The id (not just the slot) travels
 * too, so that a timer cancelled and its slot reused before the drain is recognised as stale.
 *
 * Cell i is Int32 word [6i] sequence and Float64 elements [3i + 1] id, [3i + 2] deadline; the id
 * and deadline are written before the sequence publishes them and read after it is seen.
 */
import { CACHE_LINE } from '@weft/shm';
import type { TimerBucket } from './timer-bucket.ts';

const TAIL = 0;
const HEAD = 16; // on its own cache line

export class TimerRing implements TimerBucket {
  readonly capacity: number;
  readonly #words: Int32Array;
  readonly #cells: Int32Array;
  readonly #records: Float64Array;
  readonly #mask: number;

  /** Bytes for a ring of `capacity` records (a power of two). */
  static bytesFor(capacity: number): number {
    return 2 * CACHE_LINE + capacity * 24;
  }

  /** Initializes an empty ring in a zeroed region. */
  static create(buffer: SharedArrayBuffer, byteOffset: number, capacity: number): TimerRing {
    const ring = new TimerRing(buffer, byteOffset, capacity);
    for (let i = 0; i < capacity; i++) ring.#cells[6 * i] = i;
    return ring;
  }

  constructor(buffer: SharedArrayBuffer, byteOffset: number, capacity: number) {
    this.capacity = capacity;
    this.#mask = capacity - 1;
    this.#words = new Int32Array(buffer, byteOffset, 2 * (CACHE_LINE / 4));
    this.#cells = new Int32Array(buffer, byteOffset + 2 * CACHE_LINE, capacity * 6);
    this.#records = new Float64Array(buffer, byteOffset + 2 * CACHE_LINE, capacity * 3);
  }

  /**
   * Any thread. Appends a record; returns the cell it took (for the caller's wake-up policy), or
   * -1 when the ring is full.
   */
  push(id: number, deadline: number): number {
    const words = this.#words;
    const cells = this.#cells;
    let tail = Atomics.load(words, TAIL);
    for (;;) {
      const cell = tail & this.#mask;
      const lag = (Atomics.load(cells, 6 * cell) - tail) | 0;
      if (lag === 0) {
        const seen = Atomics.compareExchange(words, TAIL, tail, (tail + 1) | 0);
        if (seen === tail) {
          this.#records[3 * cell + 1] = id;
          this.#records[3 * cell + 2] = deadline;
          Atomics.store(cells, 6 * cell, (tail + 1) | 0);
          return cell;
        }
        tail = seen;
      } else if (lag < 0) {
        return -1;
      } else {
        tail = Atomics.load(words, TAIL);
      }
    }
  }

  /** Timer thread only. Passes every published record to `take`, oldest first; returns how many. */
  drain(take: (id: number, deadline: number) => void): number {
    const cells = this.#cells;
    let head = this.#words[HEAD];
    let count = 0;
    for (;;) {
      const cell = head & this.#mask;
      if (Atomics.load(cells, 6 * cell) !== ((head + 1) | 0)) break;
      take(this.#records[3 * cell + 1], this.#records[3 * cell + 2]);
      Atomics.store(cells, 6 * cell, (head + this.capacity) | 0);
      head = (head + 1) | 0;
      count++;
    }
    this.#words[HEAD] = head;
    return count;
  }

  /** Timer thread only. True if a published record waits. */
  hasRecords(): boolean {
    const head = this.#words[HEAD];
    return Atomics.load(this.#cells, 6 * (head & this.#mask)) === ((head + 1) | 0);
  }
}
