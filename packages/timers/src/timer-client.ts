/**
 * TimerClient: one thread's way into a timer service — schedule, unschedule, and setTimer.
 *
 * Any thread attaches with the service's handle (main, a scheduler group, a plain worker). To
 * schedule, it takes a slot in the timer table (a SlotPool alloc from its own cache), pushes
 * (id, deadline) into its bucket, and wakes the timer thread only if the deadline is earlier than
 * the one the thread sleeps until, or its bucket is a quarter full. To unschedule, it CASes the
 * timer's state: O(1), and the slot is free at once.
 *
 * Buckets: in "hashed" mode the thread shares bucket `threadId % buckets` with others (brpc's
 * 13); in "per-thread" mode it claims a bucket of its own (a single-producer ring), and threads
 * that find every bucket claimed share one more ring. The figures of each are in the README.
 *
 * setTimer / clearTimer have the shape of setTimeout / clearTimeout: the callback runs on this
 * thread. The client claims one of the service's built-in endpoints, gives each callback a token,
 * and while callbacks are pending keeps a pump parked on the endpoint's lot (Atomics.waitAsync,
 * holding the event loop open, as a pending setTimeout does).
 */
import { threadId } from 'node:worker_threads';
import {
  describe,
  ErrorCode,
  type MpscQueue,
  type ParkingLot,
  WeftError,
  WeftRangeError,
  WeftTypeError,
} from '@weft/shm';
import { now } from './clock.ts';
import { TimerBlock, TimerControl, type TimerSizes } from './timer-block.ts';
import type { TimerBucket } from './timer-bucket.ts';
import type { UnscheduleResult } from './timer-table.ts';
import { encodeTarget, NO_TOKEN } from './timer-target.ts';

/** setTimer tokens one thread can have busy at once (all a target's token bits allow). */
const TOKENS = NO_TOKEN;

/** What a thread needs to attach to a timer service (structured-cloneable). */
export interface TimerHandle {
  buffer: SharedArrayBuffer;
  sizes: TimerSizes;
}

/** When a timer fires: push `token` (if any) into `endpoint`'s inbox and signal its lot. */
export interface TimerTarget {
  endpoint: number;
  /** 0 .. 2^25 - 2; omit for a plain wake-up of the endpoint. */
  token?: number;
}

/** A delay in milliseconds from now, or an absolute deadline on the timer clock (`now()`). */
export type DelayOrDeadline = number | { at: number };

/** Options of `TimerClient.attach`. */
export interface TimerClientOptions {
  /** Called with what a setTimer callback throws (default: a process warning). */
  onError?: (error: unknown) => void;
}

const clients = new WeakMap<SharedArrayBuffer, TimerClient>();

function requireTime(value: DelayOrDeadline): number {
  if (typeof value === 'number') {
    if (!(value >= 0) || value === Number.POSITIVE_INFINITY) {
      throw new WeftRangeError(
        ErrorCode.OUT_OF_RANGE,
        `a timer delay must be a finite number of milliseconds, 0 or more, got ${describe(value)}`,
      );
    }
    return now() + value;
  }
  const at = (value as { at?: unknown } | null)?.at;
  if (typeof at !== 'number' || !Number.isFinite(at)) {
    throw new WeftTypeError(
      ErrorCode.INVALID_ARGUMENT,
      `a timer needs a delay in milliseconds or { at: deadline }, got ${describe(value)}`,
    );
  }
  return at;
}

export class TimerClient {
  readonly #block: TimerBlock;
  readonly #bucket: TimerBucket;
  readonly #quarter: number;
  readonly #onError: (error: unknown) => void;
  readonly #claimedBucket: number;
  // setTimer state, created on first use.
  #endpoint = -1;
  #inbox: MpscQueue | undefined;
  #lot: ParkingLot | undefined;
  // setTimer callbacks live in dense arrays indexed by token (Maps of 100k entries cost more
  // than the whole schedule). A token is busy from setTimer until its firing has been seen here
  // or it was removed before firing; `handles[token]` is the handle setTimer returned for it,
  // `token + k * TOKENS` for its k-th use, so a stale handle never clears a newer timer.
  readonly #fns: Array<(() => void) | undefined> = [];
  readonly #ids: number[] = [];
  readonly #handles: number[] = [];
  readonly #freeTokens: number[] = [];
  #busyTokens = 0;
  #pendingCallbacks = 0;
  #pumping = false;

  /** This thread's client of the service `handle` names (one per thread and service). */
  static attach(handle: TimerHandle, options: TimerClientOptions = {}): TimerClient {
    let client = clients.get(handle.buffer);
    if (client === undefined) {
      client = new TimerClient(new TimerBlock(handle.buffer, handle.sizes), options);
      clients.set(handle.buffer, client);
    }
    return client;
  }

  private constructor(block: TimerBlock, options: TimerClientOptions) {
    this.#block = block;
    this.#onError =
      options.onError ??
      ((error) => process.emitWarning(error instanceof Error ? error : String(error)));
    const { mode, buckets, ringCapacity } = block.sizes;
    this.#claimedBucket = -1;
    if (mode === 'hashed') {
      this.#bucket = block.sharedRings[threadId % buckets];
    } else {
      const owned = block.ownedRings.findIndex(
        (_, b) => Atomics.compareExchange(block.claims, b, 0, 1) === 0,
      );
      if (owned >= 0) {
        this.#claimedBucket = owned;
        block.ownedRings[owned].own();
        this.#bucket = block.ownedRings[owned];
      } else {
        // All claimed: share the one ring of latecomers.
        this.#bucket = block.sharedRings[0];
      }
    }
    this.#quarter = ringCapacity / 4 - 1;
  }

  /** Milliseconds on the timer clock: monotonic, the same on every thread. */
  now(): number {
    return now();
  }

  /**
   * Schedules a timer: after `delayOrDeadline` (ms from now, or `{ at }` on the timer clock; 0 is
   * as soon as possible), `target` fires. Returns the timer's id. E_CAPACITY when the table is
   * full, E_CLOSED once the service has stopped.
   */
  schedule(delayOrDeadline: DelayOrDeadline, target: TimerTarget): number {
    const deadline = requireTime(delayOrDeadline);
    return this.#push(deadline, this.#packTarget(target));
  }

  /** Cancels timer `id`: 0 removed before running, 1 running now, -1 not found or already fired. */
  unschedule(id: number): UnscheduleResult {
    return this.#block.table.cancel(id);
  }

  /**
   * Calls `fn` on this thread after `ms` milliseconds (setTimeout's shape). Returns a handle for
   * clearTimer (not a timer id: the timer belongs to this client).
   */
  setTimer(fn: () => void, ms: number): number {
    if (typeof fn !== 'function') {
      throw new WeftTypeError(
        ErrorCode.INVALID_ARGUMENT,
        `setTimer needs a function, got ${describe(fn)}`,
      );
    }
    const deadline = requireTime(ms);
    const endpoint = this.#ownEndpoint();
    const token = this.#takeToken();
    let id: number;
    try {
      id = this.#push(deadline, encodeTarget(endpoint, token));
    } catch (error) {
      this.#giveBackToken(token);
      throw error;
    }
    this.#fns[token] = fn;
    this.#ids[token] = id;
    this.#pendingCallbacks++;
    if (!this.#pumping) {
      // Started from a microtask: a callback must never run inside setTimer itself, which it
      // could if this thread were preempted past the deadline before the pump's first look.
      this.#pumping = true;
      queueMicrotask(() => void this.#pump());
    }
    return this.#handles[token];
  }

  /**
   * Cancels a setTimer callback; true if it was pending. As with clearTimeout, a callback cleared
   * before it ran never runs, even if its timer already fired on the timer thread.
   */
  clearTimer(handle: number): boolean {
    if (typeof handle !== 'number') return false;
    const token = handle % TOKENS;
    if (this.#handles[token] !== handle || this.#fns[token] === undefined) return false;
    this.#fns[token] = undefined;
    this.#pendingCallbacks--;
    // Removed before firing: the token is free now. Otherwise its firing is on its way to the
    // inbox, and the pump frees the token when it arrives.
    if (this.unschedule(this.#ids[token]) === 0) {
      this.#giveBackToken(token);
      // Nothing left to wait for: wake the pump so it stops holding the event loop open.
      if (this.#busyTokens === 0 && this.#pumping) this.#lot?.signal();
    }
    return true;
  }

  /** setTimer callbacks pending on this thread. */
  get pendingCallbacks(): number {
    return this.#pendingCallbacks;
  }

  // Takes a slot of the timer table and pushes the timer into this thread's bucket.
  #push(deadline: number, packedTarget: number): number {
    const block = this.#block;
    if (Atomics.load(block.control, TimerControl.STOP) !== 0) {
      throw new WeftError(ErrorCode.CLOSED, 'this timer service has been stopped');
    }
    const id = block.table.add(packedTarget);
    if (id === -1) {
      throw new WeftError(
        ErrorCode.CAPACITY,
        `the timer table is full: all ${block.table.capacity} timers are pending; ` +
          'cancel unused timers or raise the `capacity` option of TimerService.start',
      );
    }
    let position = this.#bucket.push(id, deadline);
    while (position === -1) {
      // The bucket is full: wake the timer thread to drain it, and wait a moment.
      block.signal();
      Atomics.wait(block.control, TimerControl.NAP, 0, 0.05);
      position = this.#bucket.push(id, deadline);
    }
    if ((position & this.#quarter) === 0 || deadline < block.readNearest()) block.signal();
    return id;
  }

  #takeToken(): number {
    this.#busyTokens++;
    const token = this.#freeTokens.pop();
    if (token !== undefined) {
      this.#handles[token] += TOKENS;
      return token;
    }
    const fresh = this.#handles.length;
    if (fresh === TOKENS) {
      this.#busyTokens--;
      throw new WeftError(
        ErrorCode.CAPACITY,
        `this thread has ${TOKENS} setTimer callbacks pending, the most one thread can have`,
      );
    }
    this.#handles.push(fresh);
    this.#fns.push(undefined);
    this.#ids.push(0);
    return fresh;
  }

  #giveBackToken(token: number): void {
    this.#busyTokens--;
    this.#fns[token] = undefined;
    this.#freeTokens.push(token);
  }

  #packTarget(target: TimerTarget): number {
    const endpoint = (target as TimerTarget | null)?.endpoint;
    const limit =
      this.#block.sizes.builtinEndpoints +
      Atomics.load(this.#block.control, TimerControl.EXTERNAL_ENDPOINTS);
    if (
      typeof endpoint !== 'number' ||
      !Number.isInteger(endpoint) ||
      endpoint < 0 ||
      endpoint >= limit
    ) {
      throw new WeftRangeError(
        ErrorCode.OUT_OF_RANGE,
        `a timer target needs an endpoint from 0 to ${limit - 1} (registered endpoints), got ${describe(endpoint)}`,
      );
    }
    const token = target.token ?? NO_TOKEN;
    if (token !== NO_TOKEN && !(Number.isInteger(token) && token >= 0 && token < NO_TOKEN)) {
      throw new WeftRangeError(
        ErrorCode.OUT_OF_RANGE,
        `a timer token must be an integer from 0 to ${NO_TOKEN - 1}, got ${describe(token)}`,
      );
    }
    return encodeTarget(endpoint, token);
  }

  // Claims a built-in endpoint for this thread's setTimer callbacks.
  #ownEndpoint(): number {
    if (this.#endpoint >= 0) return this.#endpoint;
    const block = this.#block;
    const { buckets, builtinEndpoints } = block.sizes;
    for (let e = 0; e < builtinEndpoints; e++) {
      if (Atomics.compareExchange(block.claims, buckets + e, 0, 1) === 0) {
        this.#endpoint = e;
        this.#inbox = block.inboxes[e];
        this.#lot = block.lots[e];
        return e;
      }
    }
    throw new WeftError(
      ErrorCode.CAPACITY,
      `all ${builtinEndpoints} setTimer endpoints of this timer service are taken by other threads`,
    );
  }

  // Runs fired callbacks while any tokens are busy and the service runs; parks on the endpoint's
  // lot between them.
  async #pump(): Promise<void> {
    const inbox = this.#inbox as MpscQueue;
    const lot = this.#lot as ParkingLot;
    try {
      while (this.#busyTokens > 0) {
        const seen = lot.state();
        let popped = false;
        for (let token = inbox.pop(); token !== undefined; token = inbox.pop()) {
          popped = true;
          const fn = this.#fns[token];
          this.#giveBackToken(token);
          if (fn === undefined) continue; // cleared after its timer fired
          this.#pendingCallbacks--;
          try {
            fn();
          } catch (error) {
            this.#onError(error);
          }
        }
        if (!popped && (await lot.waitAsync(seen)) === 'stopped') break; // the service stopped
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** Gives this thread's bucket and endpoint back (when the thread is done with timers). */
  release(): void {
    const block = this.#block;
    if (this.#claimedBucket >= 0) Atomics.store(block.claims, this.#claimedBucket, 0);
    if (this.#endpoint >= 0) Atomics.store(block.claims, block.sizes.buckets + this.#endpoint, 0);
    block.table.pool.flushCache();
    clients.delete(block.buffer);
  }
}
