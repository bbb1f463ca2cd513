/**
 * WorkStealingDeque: a group's run queue that idle groups steal from (Chase–Lev, as brpc's
 * WorkStealingQueue).
 *
 * One thread owns the deque and works at its bottom: `push` adds the newest item and `pop` takes
 * it back, so the owner runs newest-first and its caches stay warm. Any other thread may `steal`
 * from the top, oldest first, claiming the item with a compare-and-swap on `top`. Only the last
 * item is contended: when one is left, the owner's `pop` races thieves with the same CAS.
 *
 * Layout: a header line, then `bottom` and `top` on lines of their own (the owner writes one,
 * thieves the other: no false sharing), then the ring of int32 items. `push` and `pop` must only
 * ever be called by one thread at a time (the owner); `steal` may run on any thread at any time.
 *
 * Ordering, in JavaScript terms: every Atomics operation is sequentially consistent, and plain
 * typed-array accesses are ordered by them. `push` writes the item with a plain store, then
 * publishes it with an Atomics.store of `bottom`; a thief that Atomics.loads that `bottom` sees
 * the item. `pop` Atomics.stores the decremented `bottom` *then* Atomics.loads `top` — the
 * store-load order that brpc needs a seq_cst fence for — so the owner and a thief can never both
 * take the last item. A thief may read a slot the owner is overwriting after wrap-around, but its
 * CAS then fails and it discards what it read; Int32 reads never tear, so that race is benign.
 *
 * Indices are int32 counters that wrap: sizes are computed as `(bottom - top) | 0` and slots as
 * `index & mask`, which stays correct past 2^31 and 2^32 operations because the true distance
 * between the counters never exceeds the capacity (at most 2^30).
 *
 * A full deque is never waited on: `push` returns false and the caller decides (the scheduler
 * overflows to its remote queue, then runs the task inline). brpc sleeps 1 ms there, which
 * deadlocks when every worker is full (brpc issues #204, #1038).
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

const TAG = magic('WSDQ');
const MIN_CAPACITY = 2;
const MAX_CAPACITY = 2 ** 30;

/**
 * Word positions in the region, exported for tests that start the counters near 2^31 to check
 * wrap-around without running two billion operations. Not part of the package API.
 */
export const DEQUE_WORDS = {
  capacity: 1,
  bottom: WORDS_PER_LINE,
  top: 2 * WORDS_PER_LINE,
  items: 3 * WORDS_PER_LINE,
} as const;

const BOTTOM = DEQUE_WORDS.bottom;
const TOP = DEQUE_WORDS.top;

export class WorkStealingDeque {
  /** The SharedArrayBuffer holding this deque. */
  readonly buffer: SharedArrayBuffer;
  /** Where this deque's region starts in `buffer`. */
  readonly byteOffset: number;
  /** Maximum number of items (a power of two). */
  readonly capacity: number;
  readonly #words: Int32Array;
  readonly #items: Int32Array;
  readonly #mask: number;
  // The owner's last reading of `top`. `top` only grows, so this is a lower bound: while the
  // distance to it stays under the capacity, `push` knows there is room without an atomic load.
  #topSeen: number;

  /** Bytes needed for a deque of `capacity` items. */
  static bytesFor(capacity: number): number {
    requirePowerOfTwo(capacity, MIN_CAPACITY, MAX_CAPACITY, 'WorkStealingDeque capacity');
    return 3 * CACHE_LINE + Math.ceil((capacity * 4) / CACHE_LINE) * CACHE_LINE;
  }

  /** Creates an empty deque in the region at `byteOffset` of `buffer`. */
  static create(
    buffer: SharedArrayBuffer,
    byteOffset: number,
    capacity: number,
  ): WorkStealingDeque {
    const words = openRegion(
      buffer,
      byteOffset,
      WorkStealingDeque.bytesFor(capacity),
      'WorkStealingDeque',
    );
    words.fill(0);
    writeHeader(words, TAG, [capacity]);
    return new WorkStealingDeque(buffer, byteOffset, capacity);
  }

  /** Attaches, on any thread, to the deque created at `byteOffset` of `buffer`. */
  static attach(buffer: SharedArrayBuffer, byteOffset: number): WorkStealingDeque {
    const [capacity] = readHeader(buffer, byteOffset, TAG, 'WorkStealingDeque', 1);
    openRegion(buffer, byteOffset, WorkStealingDeque.bytesFor(capacity), 'WorkStealingDeque');
    return new WorkStealingDeque(buffer, byteOffset, capacity);
  }

  private constructor(buffer: SharedArrayBuffer, byteOffset: number, capacity: number) {
    this.buffer = buffer;
    this.byteOffset = byteOffset;
    this.capacity = capacity;
    this.#words = new Int32Array(buffer, byteOffset, DEQUE_WORDS.items);
    this.#items = new Int32Array(buffer, byteOffset + DEQUE_WORDS.items * 4, capacity);
    this.#mask = capacity - 1;
    this.#topSeen = Atomics.load(this.#words, TOP);
  }

  /** Owner only. Adds `value` (an int32) at the bottom; false when the deque is full. */
  push(value: number): boolean {
    requireInt32(value, 'WorkStealingDeque value');
    const words = this.#words;
    const bottom = words[BOTTOM];
    if (((bottom - this.#topSeen) | 0) >= this.capacity) {
      this.#topSeen = Atomics.load(words, TOP);
      if (((bottom - this.#topSeen) | 0) >= this.capacity) return false;
    }
    this.#items[bottom & this.#mask] = value;
    Atomics.store(words, BOTTOM, (bottom + 1) | 0);
    return true;
  }

  /** Owner only. Takes the newest item, or undefined when the deque is empty. */
  pop(): number | undefined {
    const words = this.#words;
    const bottom = words[BOTTOM];
    if (((bottom - this.#topSeen) | 0) <= 0) return undefined;
    const newBottom = (bottom - 1) | 0;
    Atomics.store(words, BOTTOM, newBottom);
    const top = Atomics.load(words, TOP);
    this.#topSeen = top;
    const left = (newBottom - top) | 0;
    if (left < 0) {
      // Thieves took everything since our last look.
      Atomics.store(words, BOTTOM, bottom);
      return undefined;
    }
    const value = this.#items[newBottom & this.#mask];
    if (left > 0) return value;
    // The last item: thieves may be after it too, and whoever moves `top` first has it.
    const won = Atomics.compareExchange(words, TOP, top, (top + 1) | 0) === top;
    Atomics.store(words, BOTTOM, bottom);
    this.#topSeen = (top + 1) | 0;
    return won ? value : undefined;
  }

  /** Any thread. Takes the oldest item, or undefined when the deque is empty. */
  steal(): number | undefined {
    const words = this.#words;
    for (;;) {
      const top = Atomics.load(words, TOP);
      const bottom = Atomics.load(words, BOTTOM);
      if (((bottom - top) | 0) <= 0) return undefined;
      const value = this.#items[top & this.#mask];
      if (Atomics.compareExchange(words, TOP, top, (top + 1) | 0) === top) return value;
      // Another thief (or the owner, for the last item) got there first: look again.
    }
  }

  /** Items present at the moment of reading; a hint while other threads work on the deque. */
  size(): number {
    const size = (Atomics.load(this.#words, BOTTOM) - Atomics.load(this.#words, TOP)) | 0;
    return Math.max(size, 0);
  }
}
