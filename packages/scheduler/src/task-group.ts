/**
 * TaskGroup: one thread's scheduler (brpc's TaskGroup).
 *
 * A group runs fibers, one step at a time, looking for work in brpc's order:
 *
 *   1. its local ready queue — its own fibers that can continue (a denque);
 *   2. its deque, newest first — tasks spawned here, not yet started;
 *   3. its inbox — notices from other threads: a task its fibers wait for has finished, a fiber
 *      of its must be cancelled, or (from the timer thread) a sleep or timeout is due;
 *   3½. the sources layers above added (a channel's queue of messages for this group's fibers);
 *   4. its remote queue — tasks spawned from outside any group;
 *   4½. its fibers that called yieldNow, so that yielding lets everything queued run first (as
 *      brpc re-queues a yielding bthread only after switching away from it);
 *   5. the other groups' deques, oldest first — stealing, from a random victim and then stepping
 *      by a prime larger than the group count, so that every victim is tried once;
 *   6. a bounded spin over 3–5 (workers only), since a hand-off between spinning threads costs
 *      ~0.2 µs and a futex wake-up ~30 µs. At most half the groups (at least one) spin at once,
 *      as Go caps its spinning threads: spinners burn cores that producers need, and with every
 *      group spinning the main thread gets preempted and everybody ends up waiting;
 *   7. parking on its ParkingLot, having counted itself in the PARKED word and read the lot's
 *      state *before* its last look at 3–5, so a signal sent meanwhile is never lost.
 *
 * Nothing ever blocks the thread. A full deque overflows to the remote queue, then runs the task
 * at once. A group parks with `Atomics.waitAsync`, so its event loop keeps turning while it is
 * idle: promises, timers and I/O that tasks started run, whether weft knows of them or not (a
 * blocking Atomics.wait would freeze them, and wakes no faster here). A busy group returns to its
 * event loop every few steps while fibers wait on promises, and every couple of milliseconds
 * regardless.
 *
 * Generator fibers are stepped by a trampoline: `gen.next(input)` returns the next effect, which
 * the group performs at once (the loop continues) or by parking the fiber. Async fibers perform
 * the same effects through their `then`. Plain bodies just run.
 */
import {
  ErrorCode,
  type MpscQueue,
  type ParkingLot,
  toTimeout,
  WeftError,
  WeftTypeError,
  type WorkStealingDeque,
} from '@weft/shm';
import { TimerClient, type TimerHandle } from '@weft/timers';
import Denque from 'denque';
import type { LocalButexWaker } from './butex-table.ts';
import { Control, type ControlBlock, Counter, GroupStatus } from './control-block.ts';
import { CONTINUE, Effect, type EffectHost, PARK, type Step } from './effects.ts';
import type { GroupSource, Waker } from './extensions.ts';
import { asyncFiber, enterFiber, Fiber, Resume } from './fiber.ts';
import { Notice, notice } from './notices.ts';
import { cancelledError, staleTaskError } from './task-errors.ts';
import type { TaskCatalog, TaskRef } from './task-registry.ts';
import { TaskState, type TaskTable } from './task-table.ts';

/** Polls of the queues before parking (~20 µs here). */
const SPIN_ROUNDS = 2000;
/** Steps between looks at the clock (is the event loop owed a turn?). */
const STEPS_PER_TURN = 64;
/** A busy group returns to its event loop at least this often, in milliseconds. */
const TURN_INTERVAL_MS = 2;
/** Notices drained from the inbox at once. */
const INBOX_BATCH = 64;
/** Tasks moved at once from the remote queue to the deque, where others can steal them. */
const REMOTE_BATCH = 16;
/**
 * How deep joins may run queued tasks inline (each level is a nested step on the JS stack; past
 * this a join parks instead, so a long chain of joins cannot overflow the stack).
 */
const MAX_INLINE_DEPTH = 48;
/** A task function whose tasks killed this many workers in a row is no longer run. */
export const POISON_LIMIT = 3;
// Steal strides: primes larger than any group count weft allows, so each is coprime with it.
const STRIDES = [1031, 1033, 1039, 1049, 1051, 1061, 1063, 1069];

/** Timer numbers (in TIMER notices) are below this, so a notice fits a timer token. */
const TIMER_NUMBERS = 2 ** 22;

/** How a group behaves on its thread, and what it offers its tasks. */
export interface GroupOptions {
  /** The timer service, and the endpoint number it knows this group's inbox and lot by. */
  timers: { handle: TimerHandle; endpoint: number };
  /** The scheduler's `data` option, returned by schedulerData() in this group's tasks. */
  data: unknown;
  /**
   * A worker's group: spins before parking and keeps its thread alive while parked. False for
   * the group on the main thread (`workers: 0`), which must not burn the thread it shares.
   */
  worker: boolean;
  /** Called when the group stops (its lot was stopped). */
  onStop?: () => void;
}

// The group each ControlBlock has on this thread, if any: sync primitives used from this thread
// reach their fibers' group directly rather than through its inbox.
const localGroups = new WeakMap<ControlBlock, TaskGroup>();

/** The group of `block` running on this thread, if there is one. */
export function localGroupOf(block: ControlBlock): TaskGroup | undefined {
  return localGroups.get(block);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}

// Runs a finished fiber's atFiberEnd callbacks, newest first; one that throws does not stop the rest.
function runAtEnd(callbacks: (() => void)[]): void {
  for (let i = callbacks.length - 1; i >= 0; i--) {
    try {
      callbacks[i]();
    } catch (error) {
      process.emitWarning(
        `weft: an atFiberEnd callback threw: ${(error as Error)?.message ?? error}`,
      );
    }
  }
}

/** A fiber parked in `join`: in the group's joiner list for a task, maybe with a timeout. */
class JoinWait {
  readonly slot: number;
  timer: { cancel(): void } | undefined = undefined;
  readonly #group: TaskGroup;
  readonly #fiber: Fiber;

  constructor(group: TaskGroup, fiber: Fiber, slot: number) {
    this.#group = group;
    this.#fiber = fiber;
    this.slot = slot;
  }

  undo(): void {
    this.timer?.cancel();
    this.#group.forgetJoiner(this.#fiber, this.slot);
  }
}

/** A fiber parked on a butex: in the group's FIFO for it, maybe with a timeout. */
class ButexWait {
  timer: { cancel(): void } | undefined = undefined;
  readonly #undo: () => void;

  constructor(undo: () => void) {
    this.#undo = undo;
  }

  undo(): void {
    this.timer?.cancel();
    this.#undo();
  }
}

export class TaskGroup implements EffectHost, LocalButexWaker {
  /** This group's index, which is also its endpoint number. */
  readonly index: number;
  /** The shared state this group runs on. */
  readonly block: ControlBlock;
  /** The scheduler's `data` option (see schedulerData()). */
  readonly data: unknown;
  readonly #block: ControlBlock;
  readonly #table: TaskTable;
  readonly #catalog: TaskCatalog;
  readonly #deque: WorkStealingDeque;
  readonly #remote: MpscQueue;
  readonly #inbox: MpscQueue;
  readonly #lot: ParkingLot;
  readonly #status: Int32Array;
  readonly #options: GroupOptions;
  readonly #ready = new Denque<Fiber>();
  readonly #yielded = new Denque<Fiber>();
  // Queues of layers above (extensions.ts), polled after the inbox.
  readonly #sources: GroupSource[] = [];
  // Fibers started here and not finished, by task slot: sized up front, because writes at
  // scattered slot indices would turn a growing array into a slow dictionary.
  readonly #fibers: (Fiber | undefined)[];
  // This group's fibers waiting for a task, by the task's slot.
  readonly #joiners = new Map<number, Fiber | Fiber[]>();
  // This group's fibers waiting on a butex, oldest first, by butex slot.
  readonly #butexWaiters = new Map<number, Denque<Fiber>>();
  readonly #timerClient: TimerClient;
  // What each of this group's pending timers is for, by its timer number.
  readonly #timerWaits = new Map<number, () => void>();
  #nextTimer = 0;
  readonly #notices = new Int32Array(INBOX_BATCH);
  // Counts not yet published to the shared counters (see Counter).
  readonly #counts = new Float64Array(Object.keys(Counter).length);
  readonly #stride: number;
  #seed: number;
  #asyncPending = 0;
  #live = 0;
  #inlineDepth = 0;
  // True while run() is on the stack. Work added from anywhere else (an async body's
  // continuation, a promise settling) must wake the group, which may be parked.
  #inLoop = false;
  #stopped = false;

  constructor(block: ControlBlock, catalog: TaskCatalog, index: number, options: GroupOptions) {
    this.index = index;
    this.data = options.data;
    this.block = block;
    this.#block = block;
    this.#table = block.table;
    this.#catalog = catalog;
    this.#deque = block.deques[index];
    this.#remote = block.remotes[index];
    this.#inbox = block.inboxes[index];
    this.#lot = block.lots[index];
    this.#status = block.status[index];
    this.#options = options;
    this.#fibers = new Array<Fiber | undefined>(block.table.capacity).fill(undefined);
    this.#timerClient = TimerClient.attach(options.timers.handle);
    this.#stride = STRIDES[index % STRIDES.length];
    this.#seed = (index + 1) * 2654435761;
    localGroups.set(block, this);
  }

  // ---- The loop ------------------------------------------------------------------------------

  /** Runs the group until it parks asynchronously, yields to the event loop, or stops. */
  readonly run = (): void => {
    this.#inLoop = true;
    try {
      this.#loop();
    } finally {
      this.#inLoop = false;
    }
  };

  // Wakes this group if work was added from outside its loop.
  #kick(): void {
    if (!this.#inLoop) this.#lot.signal();
  }

  #loop(): void {
    Atomics.store(this.#status, GroupStatus.ALIVE, 1);
    const control = this.#block.control;
    for (;;) {
      if (this.#stopped) return;
      if (!this.#drain()) {
        setImmediate(this.run);
        return;
      }
      if (this.#options.worker && this.#spin()) continue;
      // Park: count ourselves as parked, read the lot, then look once more.
      Atomics.add(control, Control.PARKED, 1);
      const seen = this.#lot.state();
      if (this.#hasWork()) {
        Atomics.sub(control, Control.PARKED, 1);
        continue;
      }
      this.#counts[Counter.PARKS]++;
      this.#publish();
      // No timeout: the timer thread signals this lot when one of this group's timers fires.
      const keepAlive = this.#options.worker || this.#live > 0 || this.#timerWaits.size > 0;
      this.#lot.waitAsync(seen, undefined, { ref: keepAlive }).then((result) => {
        Atomics.sub(control, Control.PARKED, 1);
        if (result === 'stopped') this.#stop();
        else this.run();
      });
      return;
    }
  }

  // Runs work until none is left (true) or the event loop is owed a turn (false).
  #drain(): boolean {
    let steps = 0;
    const turnAt = performance.now() + TURN_INTERVAL_MS;
    for (;;) {
      if (++steps >= STEPS_PER_TURN) {
        steps = 0;
        if (!this.#options.worker || this.#asyncPending > 0 || performance.now() >= turnAt) {
          return false;
        }
      }
      const fiber = this.#ready.shift();
      if (fiber !== undefined) {
        this.#step(fiber);
        continue;
      }
      let slot = this.#deque.pop();
      if (slot !== undefined) {
        this.#start(slot, false);
        continue;
      }
      if (this.#drainInbox()) continue;
      if (this.#pollSources()) continue;
      slot = this.#remote.pop();
      if (slot !== undefined) {
        this.#adoptRemote();
        this.#start(slot, false);
        continue;
      }
      const yielded = this.#yielded.shift();
      if (yielded !== undefined) {
        this.#step(yielded);
        continue;
      }
      slot = this.#steal();
      if (slot !== undefined) {
        this.#start(slot, true);
        continue;
      }
      return true;
    }
  }

  // Moves a batch of remote tasks into the deque, where idle groups can steal them.
  #adoptRemote(): void {
    let moved = 0;
    while (moved < REMOTE_BATCH && this.#deque.size() < this.#deque.capacity - 1) {
      const slot = this.#remote.pop();
      if (slot === undefined) break;
      this.#deque.push(slot);
      moved++;
    }
    if (moved > 0) this.#wakeIdle();
  }

  #drainInbox(): boolean {
    const count = this.#inbox.popBatch(this.#notices);
    for (let i = 0; i < count; i++) {
      const message = this.#notices[i];
      const slot = message >>> 3;
      switch (message & 7) {
        case Notice.JOINED:
          this.#wakeJoiners(slot);
          break;
        case Notice.CANCEL:
          this.cancelFiber(slot);
          break;
        case Notice.BUTEX_ONE:
          if (!this.wakeButex(slot, false)) {
            // Its waiter left (timeout, cancel): pass the wake on so that it is not lost.
            this.#block.butexes.removeWaiter(slot, this.index);
            this.#block.butexes.wake(slot, false, this);
          }
          break;
        case Notice.BUTEX_ALL:
          this.wakeButex(slot, true);
          break;
        case Notice.TIMER: {
          const fire = this.#timerWaits.get(slot);
          this.#timerWaits.delete(slot);
          fire?.(); // absent: the wait it was for ended first
          break;
        }
      }
    }
    return count > 0;
  }

  #pollSources(): boolean {
    const sources = this.#sources;
    let worked = false;
    for (let i = 0; i < sources.length; i++) if (sources[i].poll()) worked = true;
    return worked;
  }

  /** Adds a queue to poll after the inbox, and to check before parking. */
  addSource(source: GroupSource): void {
    this.#sources.push(source);
    this.#kick();
  }

  #steal(): number | undefined {
    const deques = this.#block.deques;
    const groups = deques.length;
    if (groups === 1) return undefined;
    this.#counts[Counter.STEAL_ATTEMPTS]++;
    this.#seed ^= this.#seed << 13;
    this.#seed ^= this.#seed >>> 17;
    this.#seed ^= this.#seed << 5;
    let victim = (this.#seed >>> 0) % groups;
    for (let i = 0; i < groups; i++, victim = (victim + this.#stride) % groups) {
      if (victim === this.index) continue;
      const slot = deques[victim].steal();
      if (slot !== undefined) return slot;
    }
    return undefined;
  }

  // Anything for this group to do: checked after reading the lot's state, before parking.
  #hasWork(): boolean {
    if (this.#ready.length > 0 || this.#yielded.length > 0) return true;
    if (this.#inbox.size() > 0 || this.#remote.size() > 0) return true;
    for (const source of this.#sources) if (source.pending()) return true;
    const deques = this.#block.deques;
    for (let g = 0; g < deques.length; g++) {
      if (g !== this.index && deques[g].size() > 0) return true;
    }
    return false;
  }

  #spin(): boolean {
    const control = this.#block.control;
    // A source whose fibers wait for latency-sensitive events may ask for a longer spin, past
    // the cap: its events then find the group awake instead of paying a futex wake-up.
    const asked = this.#sourceSpinMs();
    const maxSpinners = asked > 0 ? Number.POSITIVE_INFINITY : Math.max(1, this.#block.groups >> 1);
    if (Atomics.add(control, Control.SPINNING, 1) >= maxSpinners) {
      Atomics.sub(control, Control.SPINNING, 1);
      return false;
    }
    Atomics.store(this.#status, GroupStatus.SPINNING, 1);
    try {
      const until = performance.now() + asked;
      for (
        let round = 0;
        round < SPIN_ROUNDS || (round & 63) !== 0 || performance.now() < until;
        round++
      ) {
        if (this.#hasWork()) return true;
        Atomics.pause();
      }
      return false;
    } finally {
      Atomics.store(this.#status, GroupStatus.SPINNING, 0);
      Atomics.sub(control, Control.SPINNING, 1);
    }
  }

  // The longest spin this group's sources ask for now, in milliseconds (0: the usual spin).
  #sourceSpinMs(): number {
    let ms = 0;
    for (const source of this.#sources) ms = Math.max(ms, source.spinMs?.() ?? 0);
    return ms;
  }

  // Wakes up to two parked groups: new stealable work appeared here.
  #wakeIdle(): void {
    if (Atomics.load(this.#block.control, Control.PARKED) === 0) return;
    const lots = this.#block.lots;
    const groups = this.#block.groups;
    let woken = 0;
    for (let i = 1; i < groups && woken < 2; i++)
      woken += lots[(this.index + i) % groups].signal(1);
    this.#counts[Counter.SIGNALS] += woken;
  }

  // Publishes counts and status for stats(), and gives cached free slots back.
  #publish(): void {
    const counts = this.#counts;
    for (let c = 0; c < counts.length; c++) {
      if (counts[c] !== 0) {
        this.#block.counters.add(this.index, counts[c], c);
        counts[c] = 0;
      }
    }
    this.#status[GroupStatus.CURRENT] = -1;
    this.#status[GroupStatus.READY] = this.#ready.length;
    this.#status[GroupStatus.LIVE_FIBERS] = this.#live;
    this.#table.pool.flushCache();
    this.#block.store.flushCaches();
  }

  #stop(): void {
    this.#stopped = true;
    this.#publish();
    Atomics.store(this.#status, GroupStatus.ALIVE, 0);
    this.#options.onStop?.();
  }

  // ---- Starting, stepping, finishing -----------------------------------------------------------

  #start(slot: number, stolen: boolean): void {
    const table = this.#table;
    const cancelled = table.begin(slot, this.index);
    this.#counts[Counter.TASKS_RUN]++;
    if (stolen) this.#counts[Counter.STOLEN]++;
    const fnId = table.fn[slot];
    const ref = this.#catalog.refOf(fnId);
    const fiber = new Fiber(this, slot, table.ids[slot], ref.kind);
    this.#fibers[slot] = fiber;
    this.#live++;
    this.#status[GroupStatus.CURRENT] = slot;
    // A cancel requested before the start: the task never runs (see TaskTable.begin).
    if (cancelled) {
      fiber.cancelled = true;
      this.#finish(fiber, undefined, false);
      return;
    }
    if (this.#block.poison[fnId] >= POISON_LIMIT) {
      this.#finish(
        fiber,
        new WeftError(
          ErrorCode.POISON,
          `task "${ref.name}" is not run: its tasks killed ${POISON_LIMIT} workers in a row`,
        ),
        true,
      );
      return;
    }
    const fn = ref.fn as (...args: unknown[]) => unknown;
    if (ref.kind === 'async') {
      this.#asyncPending++;
      // Async, so that an argument that fails to decode rejects instead of throwing here.
      const body = async () => table.call(slot, fn);
      this.#settleLater(fiber, asyncFiber.run(fiber, body));
      return;
    }
    const previous = enterFiber(fiber);
    let value: unknown;
    try {
      value = table.call(slot, fn);
    } catch (error) {
      this.#finish(fiber, error, true);
      return;
    } finally {
      enterFiber(previous);
    }
    if (ref.kind === 'generator') {
      fiber.gen = value as Generator<unknown, unknown, unknown>;
      this.#step(fiber);
      return;
    }
    if (isThenable(value)) {
      this.#asyncPending++;
      this.#settleLater(fiber, value);
      return;
    }
    this.#finish(fiber, value, false);
  }

  #settleLater(fiber: Fiber, promise: PromiseLike<unknown>): void {
    promise.then(
      (value) => {
        this.#asyncPending--;
        this.#finish(fiber, value, false);
      },
      (error) => {
        this.#asyncPending--;
        this.#finish(fiber, error, true);
      },
    );
  }

  // The trampoline: runs a generator fiber until it parks or finishes.
  #step(fiber: Fiber): void {
    const previous = enterFiber(fiber);
    this.#status[GroupStatus.CURRENT] = fiber.slot;
    const gen = fiber.gen as Generator<unknown, unknown, unknown>;
    let input = fiber.input;
    let mode = fiber.mode;
    fiber.input = undefined;
    fiber.mode = Resume.NEXT;
    try {
      for (;;) {
        if (fiber.cancelRequested && !fiber.cancelled) {
          fiber.cancelled = true;
          mode = Resume.RETURN;
        }
        let result: IteratorResult<unknown, unknown>;
        try {
          result =
            mode === Resume.NEXT
              ? gen.next(input)
              : mode === Resume.THROW
                ? gen.throw(input)
                : gen.return(undefined);
        } catch (error) {
          this.#finish(fiber, error, true);
          return;
        }
        if (result.done) {
          this.#finish(fiber, result.value, false);
          return;
        }
        const effect = result.value;
        let step: Step;
        if (effect instanceof Effect) {
          try {
            step = effect.perform(this, fiber);
          } catch (error) {
            step = this.#fail(fiber, error);
          }
        } else {
          step = this.#fail(
            fiber,
            new WeftTypeError(
              ErrorCode.INVALID_ARGUMENT,
              'a generator task yielded something that is not a weft effect; ' +
                'use yield* with spawn, join, sleep, yieldNow, cancel, detach or until',
            ),
          );
        }
        if (step === PARK) return;
        input = fiber.input;
        mode = fiber.mode;
        fiber.input = undefined;
        fiber.mode = Resume.NEXT;
      }
    } finally {
      enterFiber(previous);
    }
  }

  #finish(fiber: Fiber, value: unknown, failed: boolean): void {
    const table = this.#table;
    const slot = fiber.slot;
    const fnId = table.fn[slot];
    if (fiber.cancelled) {
      table.writeError(slot, cancelledError(table.nameOf(fnId), fiber.id));
    } else if (failed) {
      table.writeError(slot, value);
    } else {
      table.writeResult(slot, value);
      // A clean finish ends a run of worker deaths blamed on this function.
      if (this.#block.poison[fnId] !== 0) Atomics.store(this.#block.poison, fnId, 0);
    }
    this.#fibers[slot] = undefined;
    this.#live--;
    this.#counts[Counter.FINISHED]++;
    if (fiber.atEnd !== undefined) runAtEnd(fiber.atEnd);
    if (this.#status[GroupStatus.CURRENT] === slot) this.#status[GroupStatus.CURRENT] = -1;
    table.finish(slot, this.#notifyJoined);
  }

  readonly #notifyJoined = (endpoint: number, slot: number): void => {
    if (endpoint === this.index) this.#wakeJoiners(slot);
    else this.#block.post(endpoint, notice(slot, Notice.JOINED));
  };

  // Resumes a parked fiber whose `input` and `mode` are set.
  #resume(fiber: Fiber): void {
    fiber.wait = undefined;
    if (fiber.kind === 'generator') {
      this.#ready.push(fiber);
      this.#kick();
      return;
    }
    const { settle, fail } = fiber;
    fiber.settle = undefined;
    fiber.fail = undefined;
    if (fiber.mode === Resume.THROW) fail?.(fiber.input);
    else settle?.(fiber.input);
    fiber.input = undefined;
    fiber.mode = Resume.NEXT;
  }

  // Continue now, throwing `error` into the fiber.
  #fail(fiber: Fiber, error: unknown): Step {
    fiber.input = error;
    fiber.mode = Resume.THROW;
    return CONTINUE;
  }

  #continue(fiber: Fiber, value: unknown): Step {
    fiber.input = value;
    fiber.mode = Resume.NEXT;
    return CONTINUE;
  }

  /**
   * Runs `fire` on this group after `ms` milliseconds, through the timer thread (its notice comes
   * to this group's inbox). `cancel` makes sure it will not run.
   */
  #after(ms: number, fire: () => void): { cancel(): void } {
    let number = this.#nextTimer;
    while (this.#timerWaits.has(number)) number = (number + 1) % TIMER_NUMBERS;
    this.#nextTimer = (number + 1) % TIMER_NUMBERS;
    const timers = this.#options.timers;
    const id = this.#timerClient.schedule(ms, {
      endpoint: timers.endpoint,
      token: notice(number, Notice.TIMER),
    });
    this.#timerWaits.set(number, fire);
    return {
      cancel: () => {
        this.#timerWaits.delete(number); // a notice already on its way finds nothing
        this.#timerClient.unschedule(id);
      },
    };
  }

  // ---- Effects ---------------------------------------------------------------------------------

  spawn(fiber: Fiber, ref: TaskRef, args: unknown[], urgent: boolean): Step {
    let id: number;
    try {
      id = this.#table.create(this.#catalog.idOf(ref), args);
    } catch (error) {
      return this.#fail(fiber, error);
    }
    const slot = id >>> 0;
    this.#counts[Counter.SPAWNED]++;
    this.#continue(fiber, id);
    if (!urgent && (this.#deque.push(slot) || this.#remote.tryPush(slot))) {
      this.#kick();
      this.#wakeIdle();
      return CONTINUE;
    }
    // Run it now (urgent, or every queue full: never block). A generator caller waits first in
    // line and resumes when the new task parks or finishes.
    if (fiber.kind !== 'generator') {
      this.#start(slot, false);
      return CONTINUE;
    }
    this.#ready.unshift(fiber);
    this.#start(slot, false);
    return PARK;
  }

  join(fiber: Fiber, id: number, timeoutMs: number | undefined): Step {
    if (id === fiber.id) {
      return this.#fail(
        fiber,
        new WeftError(ErrorCode.DEADLOCK, `task ${id} cannot join itself: it would wait forever`),
      );
    }
    const timeout = timeoutMs === undefined ? undefined : toTimeout(timeoutMs, 'join timeout');
    const table = this.#table;
    const slot = table.acquireForJoin(id);
    if (slot < 0) return this.#fail(fiber, staleTaskError(id, 'join'));
    if (fiber.kind === 'generator') this.#helpUntilDone(slot);
    if (!table.addWaiter(slot, this.index)) return this.#collect(fiber, slot);
    const waiting = this.#joiners.get(slot);
    if (waiting === undefined) this.#joiners.set(slot, fiber);
    else if (Array.isArray(waiting)) waiting.push(fiber);
    else this.#joiners.set(slot, [waiting, fiber]);
    const wait = new JoinWait(this, fiber, slot);
    if (timeout !== undefined) {
      wait.timer = this.#after(timeout, () => {
        wait.undo();
        this.#fail(
          fiber,
          new WeftError(ErrorCode.TIMEOUT, `join of task ${id} timed out after ${timeout} ms`),
        );
        this.#resume(fiber);
      });
    }
    fiber.wait = wait;
    return PARK;
  }

  /**
   * A joining fiber first runs this group's own queued tasks, newest first, until the task it
   * joins is done or the deque is empty (a "help-first" join, as Cilk and TBB do). In the common
   * `join(spawn(...))` the newest queued task is the one joined, and it then runs right here: no
   * park, no wake-up, no notice. The tasks would have run on this group anyway; stolen ones are
   * left to their thieves.
   */
  #helpUntilDone(slot: number): void {
    if (this.#inlineDepth >= MAX_INLINE_DEPTH) return;
    const table = this.#table;
    this.#inlineDepth++;
    try {
      while (table.stateOf(slot) !== TaskState.DONE) {
        const queued = this.#deque.pop();
        if (queued === undefined) return;
        this.#start(queued, false);
      }
    } finally {
      this.#inlineDepth--;
    }
  }

  // Reads a finished task's result into the fiber and drops the fiber's reference.
  #collect(fiber: Fiber, slot: number): Step {
    const table = this.#table;
    try {
      this.#continue(fiber, table.readResult(slot));
    } catch (error) {
      this.#fail(fiber, error);
    }
    table.releaseCollected(slot);
    return CONTINUE;
  }

  /** Takes a parked joiner out of the list for `slot` and drops its reference (timeout, cancel). */
  forgetJoiner(fiber: Fiber, slot: number): void {
    const waiting = this.#joiners.get(slot);
    if (waiting === fiber) this.#joiners.delete(slot);
    else if (Array.isArray(waiting)) {
      const i = waiting.indexOf(fiber);
      if (i >= 0) waiting.splice(i, 1);
      if (waiting.length === 0) this.#joiners.delete(slot);
    }
    this.#table.release(slot);
  }

  #wakeJoiners(slot: number): void {
    const waiting = this.#joiners.get(slot);
    // A late notice (its waiter timed out or was cancelled) finds nobody: nothing to do.
    if (waiting === undefined || this.#table.stateOf(slot) !== TaskState.DONE) return;
    this.#joiners.delete(slot);
    if (!Array.isArray(waiting)) this.#wakeJoiner(waiting, slot);
    else for (const fiber of waiting) this.#wakeJoiner(fiber, slot);
  }

  #wakeJoiner(fiber: Fiber, slot: number): void {
    (fiber.wait as JoinWait).timer?.cancel();
    this.#collect(fiber, slot);
    this.#resume(fiber);
  }

  yieldNow(fiber: Fiber): Step {
    this.#continue(fiber, undefined);
    if (fiber.kind === 'generator') {
      this.#yielded.push(fiber);
      this.#kick();
      return PARK;
    }
    fiber.wait = { undo: () => clearImmediate(immediate) };
    const immediate = setImmediate(() => this.#resume(fiber));
    return PARK;
  }

  sleep(fiber: Fiber, ms: number): Step {
    let delay: number;
    try {
      delay = toTimeout(ms, 'sleep duration');
    } catch (error) {
      return this.#fail(fiber, error);
    }
    this.#continue(fiber, undefined);
    const timer = this.#after(delay, () => this.#resume(fiber));
    fiber.wait = { undo: () => timer.cancel() };
    return PARK;
  }

  until(fiber: Fiber, promise: PromiseLike<unknown>, onUndo?: () => void): Step {
    let settled = false;
    this.#asyncPending++;
    const done = (): boolean => {
      if (settled) return false;
      settled = true;
      this.#asyncPending--;
      return true;
    };
    fiber.wait = {
      undo: () => {
        if (done()) onUndo?.();
      },
    };
    promise.then(
      (value) => {
        if (!done()) return;
        this.#continue(fiber, value);
        this.#resume(fiber);
      },
      (error) => {
        if (!done()) return;
        this.#fail(fiber, error);
        this.#resume(fiber);
      },
    );
    return PARK;
  }

  cancel(fiber: Fiber, id: number): Step {
    if (id === fiber.id) fiber.cancelRequested = true;
    else if (!this.#block.requestCancel(id, this))
      return this.#fail(fiber, staleTaskError(id, 'cancel'));
    return this.#continue(fiber, undefined);
  }

  /** Cancels this group's fiber for `slot`, if it still runs: a parked fiber wakes to unwind. */
  cancelFiber(slot: number): void {
    const fiber = this.#fibers[slot];
    if (fiber === undefined || fiber.cancelRequested) return;
    fiber.cancelRequested = true;
    if (fiber.wait === undefined) return; // running or ready: it unwinds at its next step
    fiber.wait.undo();
    fiber.cancelled = true;
    if (fiber.kind === 'generator') {
      fiber.input = undefined;
      fiber.mode = Resume.RETURN;
      this.#resume(fiber);
      return;
    }
    this.#fail(fiber, cancelledError(this.#table.nameOf(this.#table.fn[slot]), fiber.id));
    this.#resume(fiber);
  }

  park(fiber: Fiber, arm: (waker: Waker<unknown>) => (() => void) | undefined): Step {
    let arming = true;
    let settled = false;
    const settle = (value: unknown, mode: number) => {
      if (settled) return;
      settled = true;
      fiber.input = value;
      fiber.mode = mode;
      if (!arming) this.#resume(fiber);
    };
    let undo: (() => void) | undefined;
    try {
      undo = arm({
        resume: (value) => settle(value, Resume.NEXT),
        fail: (error) => settle(error, Resume.THROW),
      });
    } catch (error) {
      settled = true;
      return this.#fail(fiber, error);
    } finally {
      arming = false;
    }
    if (settled) return CONTINUE;
    fiber.wait = {
      undo: () => {
        settled = true;
        undo?.();
      },
    };
    return PARK;
  }

  butexWait(fiber: Fiber, slot: number, expected: number, timeoutMs: number | undefined): Step {
    let timeout: number | undefined;
    try {
      timeout = timeoutMs === undefined ? undefined : toTimeout(timeoutMs, 'wait timeout');
    } catch (error) {
      return this.#fail(fiber, error);
    }
    const butexes = this.#block.butexes;
    butexes.addWaiter(slot, this.index);
    if (Atomics.load(butexes.words, 2 * slot) !== expected)
      return this.#continue(fiber, 'not-equal');
    let waiting = this.#butexWaiters.get(slot);
    if (waiting === undefined) {
      waiting = new Denque<Fiber>();
      this.#butexWaiters.set(slot, waiting);
    }
    waiting.push(fiber);
    const list = waiting;
    const wait = new ButexWait(() => {
      const at = list.toArray().indexOf(fiber);
      if (at < 0) return; // already woken
      list.removeOne(at);
      // Only this FIFO's emptying clears the bit (a later wait may have started a new FIFO).
      if (list.isEmpty() && this.#butexWaiters.get(slot) === list) {
        this.#butexWaiters.delete(slot);
        butexes.removeWaiter(slot, this.index);
      }
    });
    if (timeout !== undefined) {
      wait.timer = this.#after(timeout, () => {
        wait.undo();
        this.#continue(fiber, 'timed-out');
        this.#resume(fiber);
      });
    }
    fiber.wait = wait;
    return PARK;
  }

  /** Wakes one (or every) fiber of this group waiting on butex `slot`; false if none was. */
  wakeButex(slot: number, all: boolean): boolean {
    const waiting = this.#butexWaiters.get(slot);
    if (waiting === undefined) return false;
    do {
      const fiber = waiting.shift() as Fiber;
      (fiber.wait as ButexWait).timer?.cancel();
      this.#continue(fiber, 'ok');
      this.#resume(fiber);
    } while (all && !waiting.isEmpty());
    if (waiting.isEmpty()) {
      this.#butexWaiters.delete(slot);
      this.#block.butexes.removeWaiter(slot, this.index);
    }
    return true;
  }

  detach(fiber: Fiber, id: number): Step {
    if (!this.#table.detach(id)) return this.#fail(fiber, staleTaskError(id, 'detach'));
    return this.#continue(fiber, undefined);
  }
}
