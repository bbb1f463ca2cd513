/**
 * Butex: a 32-bit value that threads can wait on and wake (brpc's butex, thread side).
 *
 * The building block of weft's sync primitives (Mutex, CondVar, CountdownEvent) and of joins: a
 * waiter passes the value it read and sleeps only while the butex still holds it; a waker changes
 * the value first, then wakes. brpc's guarantee holds: if a wait is ordered before a wake, either
 * the wait sees the changed value or the wake sees the waiter.
 *
 * This class is the thread side: `wait` blocks the thread, `waitAsync` parks a promise. Fibers
 * park on the same value through the scheduler, which keeps its own per-group waiter lists
 * (a suspended fiber cannot sleep in Atomics.wait).
 *
 * A butex occupies one cache line, as in brpc, so unrelated butexes never false-share.
 */
import { requireInt32, requireWakeCount } from './checks.ts';
import { Futex, type WaitAsyncOptions, type WaitResult } from './futex.ts';
import { CACHE_LINE, magic, openRegion, readHeader, writeHeader } from './region.ts';

const TAG = magic('BUTX');
const VALUE = 1;
const WAITERS = 2;

export class Butex {
  /** The SharedArrayBuffer holding this butex. */
  readonly buffer: SharedArrayBuffer;
  /** Where this butex's region starts in `buffer`. */
  readonly byteOffset: number;
  readonly #words: Int32Array;
  readonly #futex: Futex;

  /** Bytes a butex occupies: one cache line. */
  static bytesFor(): number {
    return CACHE_LINE;
  }

  /** Creates a butex holding `initialValue` in the region at `byteOffset` of `buffer`. */
  static create(buffer: SharedArrayBuffer, byteOffset: number, initialValue = 0): Butex {
    requireInt32(initialValue, 'Butex initial value');
    const words = openRegion(buffer, byteOffset, CACHE_LINE, 'Butex');
    words.fill(0);
    words[VALUE] = initialValue;
    writeHeader(words, TAG, []);
    return new Butex(buffer, byteOffset);
  }

  /** Attaches, on any thread, to the butex created at `byteOffset` of `buffer`. */
  static attach(buffer: SharedArrayBuffer, byteOffset: number): Butex {
    readHeader(buffer, byteOffset, TAG, 'Butex', 0);
    return new Butex(buffer, byteOffset);
  }

  private constructor(buffer: SharedArrayBuffer, byteOffset: number) {
    this.buffer = buffer;
    this.byteOffset = byteOffset;
    this.#words = new Int32Array(buffer, byteOffset, CACHE_LINE / 4);
    this.#futex = new Futex(this.#words, VALUE, WAITERS);
  }

  /** The current value. */
  load(): number {
    return Atomics.load(this.#words, VALUE);
  }

  /** Sets the value (an int32). Wake waiters afterwards with `wake` or `wakeAll`. */
  store(value: number): void {
    requireInt32(value, 'Butex value');
    Atomics.store(this.#words, VALUE, value);
  }

  /** Adds `delta` (an int32; the value wraps as an int32) and returns the previous value. */
  add(delta: number): number {
    requireInt32(delta, 'Butex delta');
    return Atomics.add(this.#words, VALUE, delta);
  }

  /** Sets the value and returns the previous one (what a futex mutex's lock path needs). */
  exchange(value: number): number {
    requireInt32(value, 'Butex value');
    return Atomics.exchange(this.#words, VALUE, value);
  }

  /** Sets the value to `replacement` if it is `expected`; returns the value found. */
  compareExchange(expected: number, replacement: number): number {
    requireInt32(expected, 'Butex expected value');
    requireInt32(replacement, 'Butex replacement value');
    return Atomics.compareExchange(this.#words, VALUE, expected, replacement);
  }

  /**
   * Blocks until woken, unless the value is no longer `expected` ('not-equal' at once) or
   * `timeoutMs` passes ('timed-out').
   */
  wait(expected: number, timeoutMs?: number): WaitResult {
    requireInt32(expected, 'Butex expected value');
    return this.#futex.wait(expected, timeoutMs);
  }

  /** The promise form of `wait`, for a thread whose event loop must keep turning. */
  waitAsync(expected: number, timeoutMs?: number, options?: WaitAsyncOptions): Promise<WaitResult> {
    requireInt32(expected, 'Butex expected value');
    return this.#futex.waitAsync(expected, timeoutMs, options);
  }

  /** Wakes up to `count` waiters (oldest first); returns how many were woken. */
  wake(count = 1): number {
    if (typeof count !== 'number' || !(count >= 1)) requireWakeCount(count, 1);
    return this.#futex.wake(count);
  }

  /** Wakes every waiter; returns how many were woken. */
  wakeAll(): number {
    return this.#futex.wake(Number.POSITIVE_INFINITY);
  }
}
