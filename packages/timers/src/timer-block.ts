/**
 * TimerBlock: a timer service's shared state, in one SharedArrayBuffer.
 *
 * The thread that starts the service allocates it; the timer thread and every thread that
 * schedules timers attach to it with the same sizes. It holds:
 *
 * - the control line: SIGNALS (the futex word the timer thread sleeps on), the seqlock of the
 *   nearest deadline, STOP, and the number of endpoints registered from outside;
 * - the nearest deadline the timer thread will wake for, which producers read to decide whether
 *   their timer is earlier and they must wake the thread: a Float64 kept as two int32 halves
 *   behind a seqlock, every access atomic (a plain Float64 read between two atomic loads is not
 *   ordered by them in the JavaScript memory model, and may tear);
 * - the timer table;
 * - the buckets new timers travel in: `buckets` of them, which producers share by hashing their
 *   thread id ("hashed", brpc's 13: TimerRings) or claim one each ("per-thread": OwnedTimerRings,
 *   plus one shared TimerRing for the threads that come after all are claimed);
 * - built-in endpoints (an inbox and a lot each) for threads that use setTimer, and their claim
 *   words.
 */
import { CACHE_LINE, MpscQueue, ParkingLot, SharedLayout } from '@weft/shm';
import { OwnedTimerRing } from './owned-timer-ring.ts';
import type { TimerBucket } from './timer-bucket.ts';
import { TimerRing } from './timer-ring.ts';
import { TimerTable } from './timer-table.ts';

/** How producers map to buckets. */
export type BucketMode = 'hashed' | 'per-thread';

/** What a layout is computed from (plain values: they travel in workerData). */
export interface TimerSizes {
  capacity: number;
  mode: BucketMode;
  buckets: number;
  ringCapacity: number;
  builtinEndpoints: number;
  inboxCapacity: number;
}

/** Words of the control line. */
export const TimerControl = {
  /** Bumped (and notified) to wake the timer thread. */
  SIGNALS: 0,
  /** Seqlock of the nearest deadline: odd while the timer thread rewrites it. */
  NEAREST_SEQ: 1,
  /** Set by stop(). */
  STOP: 2,
  /** Endpoints registered from outside (their indices follow the built-in ones). */
  EXTERNAL_ENDPOINTS: 3,
  /** Entries in the timer thread's heap (cancelled ones included until swept), for stats. */
  HEAP_ENTRIES: 4,
  /** Bytes of the timer thread's heap arrays, for stats. */
  HEAP_BYTES: 5,
  /** Timers fired so far (wraps at 2^32), for stats. */
  FIRED: 6,
  /** Set by the timer thread when its loop runs (its module has loaded). */
  READY: 7,
  /** A word nobody signals: short naps while a queue is full. */
  NAP: 15,
} as const;

interface Plan {
  control: number;
  nearest: number;
  table: number;
  ownedRings: number[];
  sharedRings: number[];
  claims: number;
  inboxes: number[];
  lots: number[];
  byteLength: number;
}

function plan(sizes: TimerSizes): Plan {
  const layout = new SharedLayout();
  const each = (count: number, bytes: number) =>
    Array.from({ length: count }, () => layout.reserve(bytes));
  const parts = {
    control: layout.reserve(CACHE_LINE),
    nearest: layout.reserve(CACHE_LINE),
    table: layout.reserve(TimerTable.bytesFor(sizes.capacity)),
    ownedRings: each(
      sizes.mode === 'per-thread' ? sizes.buckets : 0,
      OwnedTimerRing.bytesFor(sizes.ringCapacity),
    ),
    sharedRings: each(
      sizes.mode === 'per-thread' ? 1 : sizes.buckets,
      TimerRing.bytesFor(sizes.ringCapacity),
    ),
    claims: layout.reserve(4 * (sizes.buckets + sizes.builtinEndpoints)),
    inboxes: each(sizes.builtinEndpoints, MpscQueue.bytesFor(sizes.inboxCapacity)),
    lots: each(sizes.builtinEndpoints, ParkingLot.bytesFor()),
  };
  return { ...parts, byteLength: layout.byteLength };
}

export class TimerBlock {
  readonly buffer: SharedArrayBuffer;
  readonly sizes: TimerSizes;
  readonly control: Int32Array;
  // The nearest deadline's two halves, and a local Float64/Int32 alias to assemble them.
  readonly #nearest: Int32Array;
  readonly #scratch = new Float64Array(1);
  readonly #scratchHalves = new Int32Array(this.#scratch.buffer);
  // This thread's last consistent read of the nearest deadline, and the sequence it was read at.
  // (NaN: nothing read yet; no sequence or deadline equals it.)
  #seenSeq = Number.NaN;
  #seenNearest = Number.NaN;
  readonly table: TimerTable;
  /** Per-thread mode: the buckets threads claim, one each (none in hashed mode). */
  readonly ownedRings: OwnedTimerRing[];
  /** Hashed mode: the buckets; per-thread mode: the one ring of threads that found none free. */
  readonly sharedRings: TimerRing[];
  /** Every bucket, for the timer thread. */
  readonly buckets: TimerBucket[];
  /** Claim words: one per owned ring, then one per built-in endpoint. */
  readonly claims: Int32Array;
  readonly inboxes: MpscQueue[];
  readonly lots: ParkingLot[];

  /** Allocates the buffer and creates every structure (on the thread that starts the service). */
  static create(sizes: TimerSizes): TimerBlock {
    const layout = plan(sizes);
    const buffer = new SharedArrayBuffer(layout.byteLength);
    TimerTable.create(buffer, layout.table, sizes.capacity);
    for (const at of layout.sharedRings) TimerRing.create(buffer, at, sizes.ringCapacity);
    for (const at of layout.inboxes) MpscQueue.create(buffer, at, sizes.inboxCapacity);
    for (const at of layout.lots) ParkingLot.create(buffer, at);
    const block = new TimerBlock(buffer, sizes);
    block.writeNearest(Number.POSITIVE_INFINITY);
    return block;
  }

  /** Attaches to a buffer made by `create` with the same sizes. */
  constructor(buffer: SharedArrayBuffer, sizes: TimerSizes) {
    const layout = plan(sizes);
    this.buffer = buffer;
    this.sizes = sizes;
    this.control = new Int32Array(buffer, layout.control, CACHE_LINE / 4);
    this.#nearest = new Int32Array(buffer, layout.nearest, 2);
    this.table = new TimerTable(buffer, layout.table);
    const { ringCapacity } = sizes;
    this.ownedRings = layout.ownedRings.map((at) => new OwnedTimerRing(buffer, at, ringCapacity));
    this.sharedRings = layout.sharedRings.map((at) => new TimerRing(buffer, at, ringCapacity));
    this.buckets = [...this.ownedRings, ...this.sharedRings];
    this.claims = new Int32Array(buffer, layout.claims, sizes.buckets + sizes.builtinEndpoints);
    this.inboxes = layout.inboxes.map((at) => MpscQueue.attach(buffer, at));
    this.lots = layout.lots.map((at) => ParkingLot.attach(buffer, at));
  }

  /** Wakes the timer thread. */
  signal(): void {
    Atomics.add(this.control, TimerControl.SIGNALS, 1);
    Atomics.notify(this.control, TimerControl.SIGNALS, 1);
  }

  /**
   * The deadline the timer thread will wake at, read under the seqlock; +Infinity while the
   * thread is rewriting it, so that a producer then wakes it, to be safe. While the sequence has
   * not moved since this thread's last read, that read is still right: one atomic load.
   */
  readNearest(): number {
    const before = Atomics.load(this.control, TimerControl.NEAREST_SEQ);
    if (before === this.#seenSeq) return this.#seenNearest;
    this.#scratchHalves[0] = Atomics.load(this.#nearest, 0);
    this.#scratchHalves[1] = Atomics.load(this.#nearest, 1);
    if ((before & 1) !== 0 || Atomics.load(this.control, TimerControl.NEAREST_SEQ) !== before) {
      return Number.POSITIVE_INFINITY;
    }
    this.#seenSeq = before;
    this.#seenNearest = this.#scratch[0];
    return this.#seenNearest;
  }

  /**
   * Timer thread only: publishes the deadline it will sleep until. An unchanged deadline is not
   * rewritten, so the producers' cached reads stay good.
   */
  writeNearest(deadline: number): void {
    if (deadline === this.#seenNearest) return;
    this.#seenNearest = deadline;
    this.#seenSeq = (Atomics.load(this.control, TimerControl.NEAREST_SEQ) + 2) | 0;
    this.#scratch[0] = deadline;
    Atomics.add(this.control, TimerControl.NEAREST_SEQ, 1);
    Atomics.store(this.#nearest, 0, this.#scratchHalves[0]);
    Atomics.store(this.#nearest, 1, this.#scratchHalves[1]);
    Atomics.add(this.control, TimerControl.NEAREST_SEQ, 1);
  }
}
