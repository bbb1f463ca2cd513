/**
 * OwnedTimerRing: a bucket of new timers with one producer at a time — a per-thread bucket, which
 * a thread claims for as long as it schedules timers.
 *
 * With one producer and one consumer, a ring needs no per-cell sequence numbers (TimerRing's
 * Vyukov cells) and no CAS: it is Lamport's ring. The producer writes a record with plain stores
 * and publishes it by storing TAIL; the timer thread reads TAIL, reads the records before it, and
 * hands their cells back by storing HEAD once per drain. Each side keeps its own copy of the
 * other's index and re-reads the shared one only when its copy says the ring is full (producer)
 * or empty (consumer), so a push costs one atomic store, and a record crosses between the cores
 * in 16 bytes — four to a cache line.
 *
 * Ordering, in the JavaScript memory model: the producer's record stores come before its store
 * of TAIL, and the consumer's load of TAIL that sees it synchronizes with it, so the records are
 * visible; likewise the consumer's record loads come before its store of HEAD, and the producer
 * overwrites a cell only after loading a HEAD past it.
 *
 * Ownership moves through the claim word: a thread that claims the bucket calls `own()` to take
 * up the shared TAIL and HEAD, and the bucket's previous owner stored TAIL with its last push.
 */
import { CACHE_LINE } from '@weft/shm';
import type { TimerBucket } from './timer-bucket.ts';

const TAIL = 0;
const HEAD = CACHE_LINE / 4; // on its own cache line

export class OwnedTimerRing implements TimerBucket {
  readonly capacity: number;
  readonly #words: Int32Array;
  readonly #records: Float64Array;
  readonly #mask: number;
  // The owner's view: the next position to write, and the last HEAD it loaded.
  #tail = 0;
  #knownHead = 0;

  /** Bytes for a ring of `capacity` records (a power of two). */
  static bytesFor(capacity: number): number {
    return 2 * CACHE_LINE + capacity * 16;
  }

  constructor(buffer: SharedArrayBuffer, byteOffset: number, capacity: number) {
    this.capacity = capacity;
    this.#mask = capacity - 1;
    this.#words = new Int32Array(buffer, byteOffset, 2 * (CACHE_LINE / 4));
    this.#records = new Float64Array(buffer, byteOffset + 2 * CACHE_LINE, capacity * 2);
  }

  /** Makes this thread the producer (after it claimed the bucket). */
  own(): void {
    this.#tail = Atomics.load(this.#words, TAIL);
    this.#knownHead = Atomics.load(this.#words, HEAD);
  }

  /** The owner only. Appends a record; returns its cell, or -1 when the ring is full. */
  push(id: number, deadline: number): number {
    const tail = this.#tail;
    if (((tail - this.#knownHead) | 0) === this.capacity) {
      this.#knownHead = Atomics.load(this.#words, HEAD);
      if (((tail - this.#knownHead) | 0) === this.capacity) return -1;
    }
    const cell = tail & this.#mask;
    this.#records[2 * cell] = id;
    this.#records[2 * cell + 1] = deadline;
    this.#tail = (tail + 1) | 0;
    Atomics.store(this.#words, TAIL, this.#tail);
    return cell;
  }

  drain(take: (id: number, deadline: number) => void): number {
    let head = this.#words[HEAD]; // only this thread writes HEAD
    const tail = Atomics.load(this.#words, TAIL);
    const count = (tail - head) | 0;
    if (count === 0) return 0;
    for (; head !== tail; head = (head + 1) | 0) {
      const cell = head & this.#mask;
      take(this.#records[2 * cell], this.#records[2 * cell + 1]);
    }
    Atomics.store(this.#words, HEAD, head);
    return count;
  }

  hasRecords(): boolean {
    return Atomics.load(this.#words, TAIL) !== this.#words[HEAD];
  }
}
