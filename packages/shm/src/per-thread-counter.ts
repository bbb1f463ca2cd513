/**
 * PerThreadCounter: counters that many threads bump without contending (brpc's bvar reducers).
 *
 * One shared counter that every thread increments is a cache line bouncing between cores on
 * every add. Here each thread adds into its own row — a run of 64-bit cells starting on its own
 * cache line — and a read sums the rows. Writes stay local; the cost moves to the (rare) read.
 *
 * A region holds `counters` counters for `threads` threads. Thread indices are the caller's: a
 * scheduler uses its group index, and reserves extra rows for the main thread or the timer
 * thread. Two threads sharing a row are still counted exactly (every add is an atomic add), they
 * merely contend.
 *
 * Cells are BigInt64 and updated with Atomics, so a reader never sees a torn value, whatever the
 * magnitude (a Float64 cell would be cheaper but may tear under the JavaScript memory model, and
 * an Int32 cell overflows). `read` returns a Number, exact up to 2^53.
 */
import { requireInteger } from './checks.ts';
import { alignToLine, CACHE_LINE, magic, openRegion, readHeader, writeHeader } from './region.ts';

const TAG = magic('CNTR');
const MAX_THREADS = 4096;
const MAX_COUNTERS = 4096;

/** Options of `PerThreadCounter.create`. */
export interface PerThreadCounterOptions {
  /** Number of thread rows, 1 to 4096. */
  threads: number;
  /** Number of counters per row, 1 to 4096 (default 1). */
  counters?: number;
}

export class PerThreadCounter {
  /** The SharedArrayBuffer holding these counters. */
  readonly buffer: SharedArrayBuffer;
  /** Where this region starts in `buffer`. */
  readonly byteOffset: number;
  /** Number of thread rows. */
  readonly threads: number;
  /** Number of counters in each row. */
  readonly counters: number;
  readonly #cells: BigInt64Array;
  // Cells from one row's start to the next's: the row padded to whole cache lines.
  readonly #rowStride: number;

  /** Bytes needed for `counters` counters in each of `threads` rows. */
  static bytesFor(threads: number, counters = 1): number {
    requireInteger(threads, 1, MAX_THREADS, 'PerThreadCounter threads');
    requireInteger(counters, 1, MAX_COUNTERS, 'PerThreadCounter counters');
    return CACHE_LINE + threads * alignToLine(counters * 8);
  }

  /** Creates zeroed counters in the region at `byteOffset` of `buffer`. */
  static create(
    buffer: SharedArrayBuffer,
    byteOffset: number,
    options: PerThreadCounterOptions,
  ): PerThreadCounter {
    const threads = options?.threads;
    const counters = options?.counters ?? 1;
    const bytes = PerThreadCounter.bytesFor(threads as number, counters);
    const words = openRegion(buffer, byteOffset, bytes, 'PerThreadCounter');
    words.fill(0);
    writeHeader(words, TAG, [threads as number, counters]);
    return new PerThreadCounter(buffer, byteOffset, threads as number, counters);
  }

  /** Attaches, on any thread, to the counters created at `byteOffset` of `buffer`. */
  static attach(buffer: SharedArrayBuffer, byteOffset: number): PerThreadCounter {
    const [threads, counters] = readHeader(buffer, byteOffset, TAG, 'PerThreadCounter', 2);
    const bytes = PerThreadCounter.bytesFor(threads, counters);
    openRegion(buffer, byteOffset, bytes, 'PerThreadCounter');
    return new PerThreadCounter(buffer, byteOffset, threads, counters);
  }

  private constructor(
    buffer: SharedArrayBuffer,
    byteOffset: number,
    threads: number,
    counters: number,
  ) {
    this.buffer = buffer;
    this.byteOffset = byteOffset;
    this.threads = threads;
    this.counters = counters;
    this.#rowStride = alignToLine(counters * 8) / 8;
    this.#cells = new BigInt64Array(buffer, byteOffset + CACHE_LINE, threads * this.#rowStride);
  }

  /** Adds `delta` (a safe integer, default 1) to `counter` (default 0) in `thread`'s row. */
  add(thread: number, delta = 1, counter = 0): void {
    if (!(thread >>> 0 < this.threads && thread === thread >>> 0)) {
      requireInteger(thread, 0, this.threads - 1, 'PerThreadCounter thread');
    }
    if (!(counter >>> 0 < this.counters && counter === counter >>> 0)) {
      requireInteger(counter, 0, this.counters - 1, 'PerThreadCounter counter');
    }
    if (!Number.isSafeInteger(delta)) {
      requireInteger(
        delta,
        Number.MIN_SAFE_INTEGER,
        Number.MAX_SAFE_INTEGER,
        'PerThreadCounter delta',
      );
    }
    Atomics.add(this.#cells, thread * this.#rowStride + counter, BigInt(delta));
  }

  /** The sum of `counter` (default 0) over every thread. */
  read(counter = 0): number {
    requireInteger(counter, 0, this.counters - 1, 'PerThreadCounter counter');
    let sum = 0n;
    for (let thread = 0; thread < this.threads; thread++) {
      sum += Atomics.load(this.#cells, thread * this.#rowStride + counter);
    }
    return Number(sum);
  }

  /** `counter` (default 0) in `thread`'s row alone. */
  readThread(thread: number, counter = 0): number {
    requireInteger(thread, 0, this.threads - 1, 'PerThreadCounter thread');
    requireInteger(counter, 0, this.counters - 1, 'PerThreadCounter counter');
    return Number(Atomics.load(this.#cells, thread * this.#rowStride + counter));
  }
}
