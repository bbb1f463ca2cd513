/**
 * ControlBlock: all of a scheduler's shared state, in one SharedArrayBuffer (brpc's TaskControl
 * data).
 *
 * The main thread plans the layout from the sizes in `ControlSizes`, allocates one buffer and
 * creates every structure in it; each worker receives the buffer and the same sizes in
 * `workerData` and attaches. After boot, threads talk only through this memory.
 *
 * Endpoints are the threads that can be woken: groups 0 .. groups-1 (one per worker, or the main
 * thread when `workers: 0`), then `externals` endpoints for threads outside any group that join
 * tasks (endpoint `groups` is the thread that started the scheduler). Each endpoint has an inbox
 * (an MpscQueue of notices, see notices.ts) and its own ParkingLot, so a wake-up reaches exactly the
 * thread it is for. Each group also has a deque (its stealable tasks) and a remote queue (tasks
 * spawned from outside the group).
 *
 * Why one lot per endpoint rather than brpc's 4 shared lots: brpc's remote queues can be stolen
 * from, so waking *any* worker is enough. Here a started fiber is pinned to its group (a suspended
 * generator cannot move), so a notice for it must wake that group and no other.
 */
import {
  alignToLine,
  CACHE_LINE,
  MpscQueue,
  ParkingLot,
  PerThreadCounter,
  SharedLayout,
  WorkStealingDeque,
} from '@weft/shm';
import { ButexTable } from './butex-table.ts';
import { Notice, notice } from './notices.ts';
import { PayloadStore } from './payload-store.ts';
import { TaskState, TaskTable } from './task-table.ts';

/** A group that can cancel its own fibers directly (the group on the calling thread). */
export interface LocalCanceller {
  readonly index: number;
  cancelFiber(slot: number): void;
}

/** The sizes a layout is computed from (all plain numbers: they travel in workerData). */
export interface ControlSizes {
  groups: number;
  externals: number;
  maxTasks: number;
  dequeCapacity: number;
  remoteCapacity: number;
  payloadBytes: number;
  maxTaskFunctions: number;
  maxButexes: number;
}

/**
 * Statistics counters, one PerThreadCounter row per endpoint. Groups count in plain local
 * numbers and publish the deltas when they park or yield (see LocalCounts), so counting costs
 * the hot path nothing.
 */
export const Counter = {
  TASKS_RUN: 0,
  STOLEN: 1,
  STEAL_ATTEMPTS: 2,
  PARKS: 3,
  SIGNALS: 4,
  SPAWNED: 5,
  FINISHED: 6,
} as const;
const COUNTER_COUNT = Object.keys(Counter).length;

/** Words of the control line. */
export const Control = {
  /** Set when close() begins: groups finish (or cancel) and exit. */
  CLOSING: 0,
  /** Groups that are parked or about to park (read by spawners before signalling). */
  PARKED: 1,
  /** 1 when close() asked to drain (finish queued work), 0 to cancel it. */
  DRAIN: 2,
  /** Groups spinning (idle, polling before they park); capped, see TaskGroup. */
  SPINNING: 3,
} as const;

/** Words of each group's status line, written by the group for stats() and supervision. */
export const GroupStatus = {
  /** Slot of the task the group is running now, or -1. */
  CURRENT: 0,
  /** Length of the local ready queue, as of the group's last look. */
  READY: 1,
  /** Fibers started on this group and not finished. */
  LIVE_FIBERS: 2,
  /** 1 while the group's thread is alive and running its loop. */
  ALIVE: 3,
  /** 1 while the group spins, idle: the best place for a task from outside. */
  SPINNING: 4,
} as const;

interface Plan {
  control: number;
  table: number;
  butexes: number;
  store: number;
  deques: number[];
  remotes: number[];
  inboxes: number[];
  lots: number[];
  status: number[];
  counters: number;
  poison: number;
  byteLength: number;
}

function inboxCapacity(sizes: ControlSizes): number {
  // A notice is about a task (or fiber) waited for, so there are never more outstanding than
  // twice the task table: size inboxes so that a push never finds one full.
  return 2 ** Math.ceil(Math.log2(2 * sizes.maxTasks));
}

function plan(sizes: ControlSizes): Plan {
  const endpoints = sizes.groups + sizes.externals;
  const layout = new SharedLayout();
  const each = (count: number, bytes: number) =>
    Array.from({ length: count }, () => layout.reserve(bytes));
  const result: Omit<Plan, 'byteLength'> = {
    control: layout.reserve(CACHE_LINE),
    table: layout.reserve(TaskTable.bytesFor(sizes.maxTasks, endpoints)),
    butexes: layout.reserve(ButexTable.bytesFor(sizes.maxButexes, endpoints)),
    store: layout.reserve(PayloadStore.bytesFor(sizes.payloadBytes)),
    deques: each(sizes.groups, WorkStealingDeque.bytesFor(sizes.dequeCapacity)),
    remotes: each(sizes.groups, MpscQueue.bytesFor(sizes.remoteCapacity)),
    inboxes: each(endpoints, MpscQueue.bytesFor(inboxCapacity(sizes))),
    lots: each(endpoints, ParkingLot.bytesFor()),
    status: each(sizes.groups, CACHE_LINE),
    counters: layout.reserve(PerThreadCounter.bytesFor(endpoints, COUNTER_COUNT)),
    poison: layout.reserve(alignToLine(sizes.maxTaskFunctions * 4)),
  };
  return { ...result, byteLength: layout.byteLength };
}

/** One thread's view of the scheduler's shared state. */
export class ControlBlock {
  readonly buffer: SharedArrayBuffer;
  readonly sizes: ControlSizes;
  /** The control line (see `Control`). */
  readonly control: Int32Array;
  readonly store: PayloadStore;
  readonly table: TaskTable;
  readonly butexes: ButexTable;
  readonly deques: WorkStealingDeque[];
  readonly remotes: MpscQueue[];
  /** One per endpoint. */
  readonly inboxes: MpscQueue[];
  /** One per endpoint. */
  readonly lots: ParkingLot[];
  /** One status line per group (see `GroupStatus`). */
  readonly status: Int32Array[];
  readonly counters: PerThreadCounter;
  /** Per task function: the number of workers its tasks killed in a row. */
  readonly poison: Int32Array;

  /** Allocates the buffer and creates every structure in it (on the main thread). */
  static create(sizes: ControlSizes, names: readonly string[]): ControlBlock {
    const layout = plan(sizes);
    const buffer = new SharedArrayBuffer(layout.byteLength);
    const endpoints = sizes.groups + sizes.externals;
    TaskTable.create(buffer, layout.table, sizes.maxTasks);
    ButexTable.create(buffer, layout.butexes, sizes.maxButexes);
    PayloadStore.create(buffer, layout.store, sizes.payloadBytes);
    for (const at of layout.deques) WorkStealingDeque.create(buffer, at, sizes.dequeCapacity);
    for (const at of layout.remotes) MpscQueue.create(buffer, at, sizes.remoteCapacity);
    for (const at of layout.inboxes) MpscQueue.create(buffer, at, inboxCapacity(sizes));
    for (const at of layout.lots) ParkingLot.create(buffer, at);
    PerThreadCounter.create(buffer, layout.counters, {
      threads: endpoints,
      counters: COUNTER_COUNT,
    });
    const block = new ControlBlock(buffer, sizes, names);
    for (const status of block.status) status[GroupStatus.CURRENT] = -1;
    return block;
  }

  /** Attaches to a buffer made by `create` with the same sizes (on any thread). */
  constructor(buffer: SharedArrayBuffer, sizes: ControlSizes, names: readonly string[]) {
    const layout = plan(sizes);
    const endpoints = sizes.groups + sizes.externals;
    this.buffer = buffer;
    this.sizes = sizes;
    this.control = new Int32Array(buffer, layout.control, CACHE_LINE / 4);
    this.store = PayloadStore.attach(buffer, layout.store, sizes.payloadBytes);
    this.table = new TaskTable(buffer, layout.table, endpoints, this.store, names);
    this.butexes = new ButexTable(buffer, layout.butexes, endpoints, (endpoint, message) =>
      this.post(endpoint, message),
    );
    this.deques = layout.deques.map((at) => WorkStealingDeque.attach(buffer, at));
    this.remotes = layout.remotes.map((at) => MpscQueue.attach(buffer, at));
    this.inboxes = layout.inboxes.map((at) => MpscQueue.attach(buffer, at));
    this.lots = layout.lots.map((at) => ParkingLot.attach(buffer, at));
    this.status = layout.status.map((at) => new Int32Array(buffer, at, CACHE_LINE / 4));
    this.counters = PerThreadCounter.attach(buffer, layout.counters);
    this.poison = new Int32Array(buffer, layout.poison, sizes.maxTaskFunctions);
  }

  /** Number of groups. */
  get groups(): number {
    return this.sizes.groups;
  }

  /**
   * Flags task `id` cancelled and, if it is running, tells the group it runs on (directly when
   * that is `local`, the caller's own group). False for a stale or foreign id.
   *
   * Flagging reads the state in the same atomic operation, as starting reads the flag (see
   * TaskTable.begin): a task is never started unaware of a cancel that its group is not told of.
   */
  requestCancel(id: number, local?: LocalCanceller): boolean {
    const table = this.table;
    const slot = table.acquire(id);
    if (slot < 0) return false;
    if (table.flagCancel(slot) === TaskState.RUNNING) {
      const home = table.home[slot];
      if (home === local?.index) local.cancelFiber(slot);
      else this.post(home, notice(slot, Notice.CANCEL));
    }
    table.release(slot);
    return true;
  }

  /**
   * Posts a notice to `endpoint`'s inbox and wakes that endpoint. Inboxes are sized so that a
   * push cannot find one full; should it happen anyway, wait for the consumer rather than drop a
   * wake-up.
   */
  post(endpoint: number, message: number): void {
    const inbox = this.inboxes[endpoint];
    while (!inbox.tryPush(message)) Atomics.wait(this.control, CACHE_LINE / 4 - 1, 0, 1);
    this.lots[endpoint].signal();
  }
}
