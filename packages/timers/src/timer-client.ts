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
 * 13); in "per-thread" mode it claims a bucket of its own, falling back to sharing when all are
 * claimed. Both are the same lock-free ring; the figures of each are in the README.
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
import type { TimerRing } from './timer-ring.ts';
import type { UnscheduleResult } from './timer-table.ts';
import { encodeTarget, NO_TOKEN } from './timer-target.ts';

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
  readonly #ring: TimerRing;
  readonly #quarter: number;
  readonly #onError: (error: unknown) => void;
  readonly #claimedBucket: number;
  // setTimer state, created on first use.
  #endpoint = -1;
  #inbox: MpscQueue | undefined;
  #lot: ParkingLot | undefined;
  readonly #callbacks = new Map<number, { id: number; fn: () => void }>();
  readonly #tokens = new Map<number, number>();
  #nextToken = 0;
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
    let bucket = threadId % buckets;
    this.#claimedBucket = -1;
    if (mode === 'per-thread') {
      for (let b = 0; b < buckets; b++) {
        if (Atomics.compareExchange(block.claims, b, 0, 1) === 0) {
          bucket = b;
          this.#claimedBucket = b;
          break;
        }
      }
    }
    this.#ring = block.rings[bucket];
    this.#quarter = ringCapacity / 4 - 1;
  }

  /** Milliseconds on the timer clock: monotonic, the same on every thread. */
  now(): number {
    return now();
  }

  /**
   * Schedules a timer: after `delayOrDeadline` (ms from now, or `{ at }` on the timer clock; 0 is
   * as soon as possible), `target` fires. Returns the timer's id. E_CAPACITY when the table is
   * full.
   */
  schedule(delayOrDeadline: DelayOrDeadline, target: TimerTarget): number {
    const deadline = requireTime(delayOrDeadline);
    const block = this.#block;
    const packed = this.#packTarget(target);
    const id = block.table.add(packed);
    if (id === -1) {
      throw new WeftError(
        ErrorCode.CAPACITY,
        `the timer table is full: all ${block.table.capacity} timers are pending; ` +
          'cancel unused timers or raise the `capacity` option of TimerService.start',
      );
    }
    let position = this.#ring.push(id, deadline);
    while (position === -1) {
      // The bucket is full: wake the timer thread to drain it, and wait a moment.
      block.signal();
      Atomics.wait(block.control, TimerControl.NAP, 0, 0.05);
      position = this.#ring.push(id, deadline);
    }
    if ((position & this.#quarter) === 0 || deadline < block.readNearest()) block.signal();
    return id;
  }

  /** Cancels timer `id`: 0 removed before running, 1 running now, -1 not found or already fired. */
  unschedule(id: number): UnscheduleResult {
    return this.#block.table.cancel(id);
  }

  /** Calls `fn` on this thread after `ms` milliseconds (setTimeout's shape); returns the timer id. */
  setTimer(fn: () => void, ms: number): number {
    if (typeof fn !== 'function') {
      throw new WeftTypeError(
        ErrorCode.INVALID_ARGUMENT,
        `setTimer needs a function, got ${describe(fn)}`,
      );
    }
    const endpoint = this.#ownEndpoint();
    let token = this.#nextToken;
    while (this.#callbacks.has(token)) token = (token + 1) % NO_TOKEN;
    this.#nextToken = (token + 1) % NO_TOKEN;
    const id = this.schedule(ms, { endpoint, token });
    this.#callbacks.set(token, { id, fn });
    this.#tokens.set(id, token);
    if (!this.#pumping) void this.#pump();
    return id;
  }

  /** Cancels a setTimer timer; true if it was pending (its callback will not run). */
  clearTimer(id: number): boolean {
    const token = this.#tokens.get(id);
    if (token === undefined || this.unschedule(id) !== 0) return false;
    this.#tokens.delete(id);
    this.#callbacks.delete(token);
    return true;
  }

  /** setTimer callbacks pending on this thread. */
  get pendingCallbacks(): number {
    return this.#callbacks.size;
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

  // Runs fired callbacks while any are pending; parks on the endpoint's lot between them.
  async #pump(): Promise<void> {
    this.#pumping = true;
    const inbox = this.#inbox as MpscQueue;
    const lot = this.#lot as ParkingLot;
    try {
      while (this.#callbacks.size > 0) {
        const seen = lot.state();
        let ran = false;
        for (let token = inbox.pop(); token !== undefined; token = inbox.pop()) {
          const entry = this.#callbacks.get(token);
          if (entry === undefined) continue; // cleared while firing
          this.#callbacks.delete(token);
          this.#tokens.delete(entry.id);
          ran = true;
          try {
            entry.fn();
          } catch (error) {
            this.#onError(error);
          }
        }
        if (!ran) await lot.waitAsync(seen);
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
