/**
 * MpscQueue: a bounded ring of int32 values that many threads push into and one thread drains.
 *
 * A group's inbox (its fibers woken by other threads) and its remote submit queue (tasks spawned
 * from outside any group) are MpscQueues. The algorithm is Dmitry Vyukov's bounded queue with a
 * sequence number per cell, with a single consumer:
 *
 * - cell i starts with sequence i. A producer reads `tail`, and if the cell at `tail` has
 *   sequence == tail it is free for this lap: the producer claims it by CAS on `tail`, writes the
 *   value, then publishes it by storing sequence = tail + 1.
 * - the consumer takes the cell at `head` when its sequence is head + 1 (published), then frees
 *   it for the producers' next lap by storing sequence = head + capacity.
 *
 * Sequence numbers make the ring immune to ABA and let producers tell "full" (the cell still holds
 * last lap's value) from "someone else claimed it". No value is reserved as a sentinel: any int32
 * can be queued.
 *
 * One consequence to know: a producer that has claimed a cell but not yet published it hides the
 * cells behind it, so `pop` can return undefined while a later push has already completed. The
 * value shows up once the slow push finishes. A consumer that parks when the queue looks empty
 * stays correct as long as every producer signals after its push (the ParkingLot protocol), which
 * the slow producer also does.
 *
 * `tryPush` is safe from any number of threads; `pop` and `popBatch` from one thread at a time.
 */
import { requireInt32, requirePowerOfTwo } from './checks.ts';
import {
  CACHE_LINE,
  magic,
  openRegion,
  readHeader,
  WORDS_PER_LINE,
  writeHeader,
} from './region.ts';

const TAG = magic('MPSC');
const MIN_CAPACITY = 2;
const MAX_CAPACITY = 2 ** 29;

/** Word positions in the region, exported for wrap-around tests. Not part of the package API. */
export const MPSC_WORDS = {
  capacity: 1,
  tail: WORDS_PER_LINE,
  head: 2 * WORDS_PER_LINE,
  cells: 3 * WORDS_PER_LINE,
} as const;

const TAIL = MPSC_WORDS.tail;
const HEAD = MPSC_WORDS.head;

export class MpscQueue {
  /** The SharedArrayBuffer holding this queue. */
  readonly buffer: SharedArrayBuffer;
  /** Where this queue's region starts in `buffer`. */
  readonly byteOffset: number;
  /** Maximum number of queued values (a power of two). */
  readonly capacity: number;
  readonly #words: Int32Array;
  // Cell i is the pair (sequence, value) at [2i, 2i + 1].
  readonly #cells: Int32Array;
  readonly #mask: number;

  /** Bytes needed for a queue of `capacity` values. */
  static bytesFor(capacity: number): number {
    requirePowerOfTwo(capacity, MIN_CAPACITY, MAX_CAPACITY, 'MpscQueue capacity');
    return 3 * CACHE_LINE + Math.ceil((capacity * 8) / CACHE_LINE) * CACHE_LINE;
  }

  /** Creates an empty queue in the region at `byteOffset` of `buffer`. */
  static create(buffer: SharedArrayBuffer, byteOffset: number, capacity: number): MpscQueue {
    const words = openRegion(buffer, byteOffset, MpscQueue.bytesFor(capacity), 'MpscQueue');
    words.fill(0);
    const cells = words.subarray(MPSC_WORDS.cells);
    for (let i = 0; i < capacity; i++) cells[2 * i] = i;
    writeHeader(words, TAG, [capacity]);
    return new MpscQueue(buffer, byteOffset, capacity);
  }

  /** Attaches, on any thread, to the queue created at `byteOffset` of `buffer`. */
  static attach(buffer: SharedArrayBuffer, byteOffset: number): MpscQueue {
    const [capacity] = readHeader(buffer, byteOffset, TAG, 'MpscQueue', 1);
    openRegion(buffer, byteOffset, MpscQueue.bytesFor(capacity), 'MpscQueue');
    return new MpscQueue(buffer, byteOffset, capacity);
  }

  private constructor(buffer: SharedArrayBuffer, byteOffset: number, capacity: number) {
    this.buffer = buffer;
    this.byteOffset = byteOffset;
    this.capacity = capacity;
    this.#words = new Int32Array(buffer, byteOffset, MPSC_WORDS.cells);
    this.#cells = new Int32Array(buffer, byteOffset + MPSC_WORDS.cells * 4, 2 * capacity);
    this.#mask = capacity - 1;
  }

  /** Any thread. Appends `value` (an int32); false when the queue is full. */
  tryPush(value: number): boolean {
    requireInt32(value, 'MpscQueue value');
    const words = this.#words;
    const cells = this.#cells;
    let tail = Atomics.load(words, TAIL);
    for (;;) {
      const cell = (tail & this.#mask) << 1;
      const lag = (Atomics.load(cells, cell) - tail) | 0;
      if (lag === 0) {
        const seen = Atomics.compareExchange(words, TAIL, tail, (tail + 1) | 0);
        if (seen === tail) {
          cells[cell + 1] = value;
          Atomics.store(cells, cell, (tail + 1) | 0);
          return true;
        }
        tail = seen;
      } else if (lag < 0) {
        return false; // the cell still holds last lap's value: full
      } else {
        tail = Atomics.load(words, TAIL); // another producer claimed it: move on
      }
    }
  }

  /** Consumer only. Takes the oldest value, or undefined when none is ready. */
  pop(): number | undefined {
    const head = this.#words[HEAD];
    const cell = (head & this.#mask) << 1;
    const cells = this.#cells;
    if (Atomics.load(cells, cell) !== ((head + 1) | 0)) return undefined;
    const value = cells[cell + 1];
    Atomics.store(cells, cell, (head + this.capacity) | 0);
    // Only the consumer writes `head` and producers never read it (they read cell sequences), so
    // a plain store suffices; `size()` may see it a little late.
    this.#words[HEAD] = (head + 1) | 0;
    return value;
  }

  /**
   * Consumer only. Moves up to `into.length` ready values into `into` (oldest first) and returns
   * how many it moved.
   */
  popBatch(into: Int32Array | number[]): number {
    const cells = this.#cells;
    const start = this.#words[HEAD];
    let head = start;
    let count = 0;
    while (count < into.length) {
      const cell = (head & this.#mask) << 1;
      if (Atomics.load(cells, cell) !== ((head + 1) | 0)) break;
      into[count++] = cells[cell + 1];
      Atomics.store(cells, cell, (head + this.capacity) | 0);
      head = (head + 1) | 0;
    }
    this.#words[HEAD] = head;
    return count;
  }

  /** Values queued at the moment of reading (claimed cells included); a hint under concurrency. */
  size(): number {
    const size = (Atomics.load(this.#words, TAIL) - Atomics.load(this.#words, HEAD)) | 0;
    return Math.max(size, 0);
  }
}
