/**
 * ParkingLot: where idle threads sleep until there is work (brpc's ParkingLot).
 *
 * The lot is one state word. Bit 0 means "stopped"; the other 31 bits count signals: every
 * `signal` adds 2, so the word changes on every signal. A thread about to go idle follows this
 * order, which is what makes a wake-up impossible to lose:
 *
 *     const seen = lot.state();          // 1. read the state BEFORE looking for work
 *     if (!findWork()) lot.wait(seen);   // 2. scan every queue; 3. sleep only if nothing changed
 *
 * A producer pushes its work first, then calls `signal`. If the signal lands after step 1, the
 * word differs from `seen` and `wait` returns at once; if it lands before step 1, the scan in
 * step 2 sees the work. brpc's PR #2916 fixed a lost signal caused by a signal that did not change
 * the word; here every signal does.
 *
 * One lot is shared by several threads (brpc groups its workers onto 4 lots per tag to spread
 * futex contention); `signal(n)` wakes at most n of them.
 */
import { requireInt32, requireWakeCount } from './checks.ts';
import { Futex, type WaitAsyncOptions, type WaitResult } from './futex.ts';
import { CACHE_LINE, magic, openRegion, readHeader, writeHeader } from './region.ts';

const TAG = magic('PARK');
const STATE = 1;
const WAITERS = 2;
const STOPPED_BIT = 1;
const SIGNAL_STEP = 2;

/** How a park ended: woken, the state had changed, the timeout passed, or the lot is stopped. */
export type ParkResult = WaitResult | 'stopped';

export class ParkingLot {
  /** The SharedArrayBuffer holding this lot. */
  readonly buffer: SharedArrayBuffer;
  /** Where this lot's region starts in `buffer`. */
  readonly byteOffset: number;
  readonly #words: Int32Array;
  readonly #futex: Futex;

  /** Bytes a lot occupies: one cache line. */
  static bytesFor(): number {
    return CACHE_LINE;
  }

  /** Creates a lot (running, no signals) in the region at `byteOffset` of `buffer`. */
  static create(buffer: SharedArrayBuffer, byteOffset: number): ParkingLot {
    const words = openRegion(buffer, byteOffset, CACHE_LINE, 'ParkingLot');
    words.fill(0);
    writeHeader(words, TAG, []);
    return new ParkingLot(buffer, byteOffset);
  }

  /** Attaches, on any thread, to the lot created at `byteOffset` of `buffer`. */
  static attach(buffer: SharedArrayBuffer, byteOffset: number): ParkingLot {
    readHeader(buffer, byteOffset, TAG, 'ParkingLot', 0);
    return new ParkingLot(buffer, byteOffset);
  }

  private constructor(buffer: SharedArrayBuffer, byteOffset: number) {
    this.buffer = buffer;
    this.byteOffset = byteOffset;
    this.#words = new Int32Array(buffer, byteOffset, CACHE_LINE / 4);
    this.#futex = new Futex(this.#words, STATE, WAITERS);
  }

  /** The current state word; read it before scanning for work and pass it to `wait`. */
  state(): number {
    return Atomics.load(this.#words, STATE);
  }

  /** True once `stop` has been called. */
  get stopped(): boolean {
    return (Atomics.load(this.#words, STATE) & STOPPED_BIT) !== 0;
  }

  /**
   * Records a signal (the state changes) and wakes up to `count` sleeping threads; returns how
   * many were woken (0 when nobody slept: the signal still counts for threads about to park).
   */
  signal(count = 1): number {
    if (typeof count !== 'number' || !(count >= 1)) requireWakeCount(count, 1);
    Atomics.add(this.#words, STATE, SIGNAL_STEP);
    return this.#futex.wake(count);
  }

  /**
   * Sleeps until signalled, unless the state is no longer `expectedState` (returns 'not-equal'
   * at once), `timeoutMs` passes, or the lot is stopped. Blocks the thread.
   */
  wait(expectedState: number, timeoutMs?: number): ParkResult {
    requireInt32(expectedState, 'ParkingLot expected state');
    if (expectedState & STOPPED_BIT) return 'stopped';
    return this.#afterWake(this.#futex.wait(expectedState, timeoutMs));
  }

  /** The promise form of `wait`, for a thread whose event loop must keep turning. */
  waitAsync(
    expectedState: number,
    timeoutMs?: number,
    options?: WaitAsyncOptions,
  ): Promise<ParkResult> {
    requireInt32(expectedState, 'ParkingLot expected state');
    if (expectedState & STOPPED_BIT) return Promise.resolve('stopped');
    return this.#futex
      .waitAsync(expectedState, timeoutMs, options)
      .then((result) => this.#afterWake(result));
  }

  #afterWake(result: WaitResult): ParkResult {
    return this.stopped ? 'stopped' : result;
  }

  /** Stops the lot: wakes every sleeper, and every later `wait` returns 'stopped' at once. */
  stop(): void {
    Atomics.or(this.#words, STATE, STOPPED_BIT);
    this.#futex.wake(Number.POSITIVE_INFINITY);
  }
}
