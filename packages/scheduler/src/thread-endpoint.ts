/**
 * ThreadEndpoint: joining tasks from a thread that runs no group (the main thread).
 *
 * A group parks fibers; a plain thread has promises instead. To join, the endpoint sets its bit in
 * the task's waiter mask and keeps the promise's settle functions in a local map. When the task
 * finishes, its group posts a JOINED notice to this endpoint's inbox and signals its lot; one
 * pump, parked in `Atomics.waitAsync` on that lot, drains the notices in batches and settles the
 * promises. So a thousand joins in flight cost one wait per batch of completions, not one per
 * task (an `Atomics.waitAsync` costs microseconds).
 *
 * Latency: a lone join (nothing else pending) first polls the task's state for a few
 * microseconds. A task handed to a spinning worker finishes within that time, and the answer then
 * comes back without waiting for a futex wake-up (~30 µs each way here). Likewise the pump, when
 * its inbox runs dry while joins are pending, polls it a little before parking: with work in
 * flight the next completion is usually microseconds away, and sleeping through the gap would
 * leave the workers idle while this thread is woken.
 */
import { ErrorCode, type MpscQueue, type ParkingLot, toTimeout, WeftError } from '@weft/shm';
import type { ControlBlock } from './control-block.ts';
import { staleTaskError } from './task-errors.ts';
import { TaskState, type TaskTable } from './task-table.ts';

/** How long a lone join polls before it parks, in nanoseconds. */
const SPIN_NS = 50_000n;
const NOTICE_BATCH = 64;

interface Joiner {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class ThreadEndpoint {
  readonly index: number;
  readonly #table: TaskTable;
  readonly #inbox: MpscQueue;
  readonly #lot: ParkingLot;
  readonly #spin: boolean;
  readonly #waiting = new Map<number, Joiner[]>();
  readonly #notices = new Int32Array(NOTICE_BATCH);
  #pumping = false;

  /** `spin`: poll a lone join before parking (only useful when groups run on other threads). */
  constructor(block: ControlBlock, index: number, spin: boolean) {
    this.index = index;
    this.#table = block.table;
    this.#inbox = block.inboxes[index];
    this.#lot = block.lots[index];
    this.#spin = spin;
  }

  /** Joins that have not settled yet. */
  get pending(): number {
    return this.#waiting.size;
  }

  /** Waits for task `id`; resolves with its result or rejects with its error. */
  join(id: number, timeoutMs?: number): Promise<unknown> {
    const table = this.#table;
    let timeout: number | undefined;
    try {
      timeout = timeoutMs === undefined ? undefined : toTimeout(timeoutMs, 'join timeout');
    } catch (error) {
      return Promise.reject(error);
    }
    const slot = table.acquireForJoin(id);
    if (slot < 0) return Promise.reject(staleTaskError(id, 'join'));
    if (
      !table.addWaiter(slot, this.index) ||
      (this.#waiting.size === 0 && this.#spinUntilDone(slot))
    ) {
      return new Promise((resolve, reject) =>
        this.#collect(slot, { resolve, reject, timer: undefined }),
      );
    }
    return new Promise((resolve, reject) => {
      const joiner: Joiner = { resolve, reject, timer: undefined };
      const list = this.#waiting.get(slot);
      if (list === undefined) this.#waiting.set(slot, [joiner]);
      else list.push(joiner);
      if (timeout !== undefined) {
        joiner.timer = setTimeout(() => {
          this.#forget(slot, joiner);
          reject(
            new WeftError(ErrorCode.TIMEOUT, `join of task ${id} timed out after ${timeout} ms`),
          );
        }, timeout);
      }
      if (!this.#pumping) void this.#pump();
    });
  }

  /** Settles the joins of task `slot`, which has finished (a JOINED notice). */
  readonly onJoined = (slot: number): void => {
    const list = this.#waiting.get(slot);
    // A late notice (its joiner timed out, or collected while spinning) finds nobody.
    if (list === undefined || this.#table.stateOf(slot) !== TaskState.DONE) return;
    this.#waiting.delete(slot);
    for (const joiner of list) this.#collect(slot, joiner);
  };

  /** Rejects every pending join with `error` (the scheduler is closing without them). */
  abandon(error: unknown): void {
    for (const [slot, list] of this.#waiting) {
      for (const joiner of list) {
        clearTimeout(joiner.timer);
        this.#table.release(slot);
        joiner.reject(error);
      }
    }
    this.#waiting.clear();
  }

  // Polls the inbox for up to SPIN_NS; true as soon as a notice is there.
  #pollInbox(): boolean {
    if (!this.#spin) return false;
    const deadline = process.hrtime.bigint() + SPIN_NS;
    do {
      for (let i = 0; i < 64; i++) if (this.#inbox.size() > 0) return true;
    } while (process.hrtime.bigint() < deadline);
    return false;
  }

  #spinUntilDone(slot: number): boolean {
    if (!this.#spin) return false;
    const table = this.#table;
    const deadline = process.hrtime.bigint() + SPIN_NS;
    do {
      for (let i = 0; i < 64; i++) if (table.stateOf(slot) === TaskState.DONE) return true;
    } while (process.hrtime.bigint() < deadline);
    return false;
  }

  // Settles one joiner from the finished task's result, and drops its reference.
  #collect(slot: number, joiner: Joiner): void {
    const table = this.#table;
    clearTimeout(joiner.timer);
    try {
      joiner.resolve(table.readResult(slot));
    } catch (error) {
      joiner.reject(error);
    }
    table.releaseCollected(slot);
  }

  #forget(slot: number, joiner: Joiner): void {
    const list = this.#waiting.get(slot);
    if (list === undefined) return;
    const i = list.indexOf(joiner);
    if (i < 0) return;
    list.splice(i, 1);
    if (list.length === 0) this.#waiting.delete(slot);
    this.#table.release(slot);
  }

  // Drains notices while joins are pending; parks on the lot between bursts.
  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      while (this.#waiting.size > 0) {
        const seen = this.#lot.state();
        const count = this.#inbox.popBatch(this.#notices);
        for (let i = 0; i < count; i++) this.onJoined(this.#notices[i] >>> 3);
        // After a burst, let the settled joins' continuations run (they may join more); when
        // the inbox is empty, sleep until a group signals.
        if (count > 0 || this.#pollInbox()) await null;
        else await this.#lot.waitAsync(seen);
      }
    } finally {
      this.#pumping = false;
    }
  }
}
