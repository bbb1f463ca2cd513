/**
 * Futex: a shared 32-bit word that threads sleep on until another thread changes it.
 *
 * This is the one waiting mechanism under ParkingLot and Butex (and, later, fiber joins). The
 * protocol is Linux futex's: the waiter passes the value it last read, and the runtime puts it to
 * sleep only if the word still holds that value, atomically with respect to wakers; a waker must
 * change the word *before* it wakes. A signal that lands between the waiter's read and its sleep
 * therefore makes the sleep return at once ('not-equal') instead of being lost.
 *
 * Beside the word sits a count of sleeping waiters, so that `wake` skips the runtime's notify call
 * (a global lock and a list walk, ~25 ns here) when nobody sleeps. It is safe because every
 * Atomics operation is sequentially consistent: a waiter counts itself *before* the runtime
 * re-checks the word, and a waker changes the word *before* it reads the count. If the waker reads
 * 0, its change precedes the waiter's count, hence the waiter's check, and the waiter does not
 * sleep.
 *
 * Two ways to wait:
 * - `wait` blocks the thread in `Atomics.wait`. For worker threads with nothing else to do. (Node
 *   allows it on the main thread too, where it freezes the event loop.)
 * - `waitAsync` returns a promise (`Atomics.waitAsync`), for threads whose event loop must keep
 *   turning. A pending `Atomics.waitAsync` does not by itself keep a Node process alive, so unless
 *   `ref: false` is passed, a referenced timer handle is held while any such wait is pending.
 */
import { describe, requireInteger, toTimeout } from './checks.ts';
import { ErrorCode, WeftTypeError } from './weft-error.ts';

/** How a wait ended: woken, the word had already changed, or the timeout passed. */
export type WaitResult = 'ok' | 'not-equal' | 'timed-out';

/** Options of an asynchronous wait. */
export interface WaitAsyncOptions {
  /** Keep the process alive while waiting (default true). */
  ref?: boolean;
}

// One referenced handle keeps the event loop alive for all pending referenced async waits.
let referencedWaits = 0;
let keepAlive: ReturnType<typeof setInterval> | undefined;

function holdEventLoop(): void {
  if (referencedWaits++ === 0) keepAlive = setInterval(() => {}, 2 ** 30);
}

function releaseEventLoop(): void {
  if (--referencedWaits === 0) clearInterval(keepAlive);
}

/**
 * A futex word `words[index]` with its waiter count in `words[waitersIndex]`. Both must lie in a
 * shared Int32Array; the count must not be written by anything else.
 */
export class Futex {
  readonly #words: Int32Array;
  readonly #index: number;
  readonly #waitersIndex: number;

  constructor(words: Int32Array, index: number, waitersIndex: number) {
    if (!(words instanceof Int32Array) || !(words.buffer instanceof SharedArrayBuffer)) {
      throw new WeftTypeError(
        ErrorCode.INVALID_ARGUMENT,
        `Futex needs an Int32Array over a SharedArrayBuffer, got ${describe(words)}`,
      );
    }
    requireInteger(index, 0, words.length - 1, 'Futex index');
    requireInteger(waitersIndex, 0, words.length - 1, 'Futex waitersIndex');
    this.#words = words;
    this.#index = index;
    this.#waitersIndex = waitersIndex;
  }

  /**
   * Blocks until woken, unless the word no longer holds `expected` ('not-equal' at once) or
   * `timeoutMs` passes ('timed-out'). No timeout means wait forever; 0 means do not sleep.
   */
  wait(expected: number, timeoutMs?: number): WaitResult {
    const timeout = toTimeout(timeoutMs, 'wait timeout');
    const words = this.#words;
    Atomics.add(words, this.#waitersIndex, 1);
    try {
      return Atomics.wait(words, this.#index, expected, timeout);
    } finally {
      Atomics.sub(words, this.#waitersIndex, 1);
    }
  }

  /** The promise form of `wait`: the thread's event loop keeps running while it waits. */
  waitAsync(expected: number, timeoutMs?: number, options?: WaitAsyncOptions): Promise<WaitResult> {
    const timeout = toTimeout(timeoutMs, 'waitAsync timeout');
    const words = this.#words;
    const waitersIndex = this.#waitersIndex;
    Atomics.add(words, waitersIndex, 1);
    const pending = Atomics.waitAsync(words, this.#index, expected, timeout);
    if (!pending.async) {
      Atomics.sub(words, waitersIndex, 1);
      return Promise.resolve(pending.value);
    }
    const ref = options?.ref ?? true;
    if (ref) holdEventLoop();
    return pending.value.then((result) => {
      Atomics.sub(words, waitersIndex, 1);
      if (ref) releaseEventLoop();
      return result;
    });
  }

  /** Wakes up to `count` sleeping waiters and returns how many were woken. */
  wake(count: number): number {
    if (Atomics.load(this.#words, this.#waitersIndex) === 0) return 0;
    return Atomics.notify(this.#words, this.#index, count);
  }
}
