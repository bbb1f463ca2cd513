/**
 * Scheduler: starts the groups, and is the API for code outside them (brpc's TaskControl).
 *
 * `Scheduler.start` lays out the shared memory, starts one worker thread per group (or, with
 * `workers: 0`, runs one group on the calling thread's event loop), and checks that every worker
 * registered the same tasks. From the calling thread, `spawn` puts a task in a group's remote
 * queue (round-robin) and signals that group; `join` waits through a ThreadEndpoint; `run` does
 * both. `close` drains or cancels the work, stops the groups and ends the workers.
 *
 * A worker that dies is replaced: its queued tasks are requeued, its fibers fail with
 * E_WORKER_DIED (see worker-death.ts). Workers are unref'd: a forgotten scheduler does not keep
 * the process alive, but a pending `join` does.
 */
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { ErrorCode, requireInteger, WeftError, WeftTypeError } from '@weft/shm';
import { TimerService } from '@weft/timers';
import Denque from 'denque';
import { Control, ControlBlock, type ControlSizes, Counter, GroupStatus } from './control-block.ts';
import type { JoinOptions, TaskId } from './effects.ts';
import { type GroupLots, setInstalled } from './extensions.ts';
import type { InstallMessage } from './group-worker.ts';
import { registerScheduler, reviveSyncPrimitives } from './sync.ts';
import { staleTaskError } from './task-errors.ts';
import { TaskGroup } from './task-group.ts';
import {
  registeredNames,
  type TaskArgs,
  TaskCatalog,
  type TaskRef,
  type TaskResult,
} from './task-registry.ts';
import { TaskState } from './task-table.ts';
import { ThreadEndpoint } from './thread-endpoint.ts';
import { bootWorker, checkRegistry, startWorker } from './worker-boot.ts';
import { recoverDeadGroup } from './worker-death.ts';

/** Options of `Scheduler.start`. */
export interface SchedulerOptions {
  /** Worker threads, one TaskGroup each (default: os.availableParallelism()); 0 runs one group on this thread. */
  workers?: number;
  /** Module URLs (or paths) that register tasks; every worker imports them at boot. */
  tasks?: string | URL | readonly (string | URL)[];
  /** Task slots: queued, running, and finished-but-not-joined tasks (default 131072). */
  maxTasks?: number;
  /** Bytes of shared memory for non-number arguments and results (default 16 MiB). */
  payloadBytes?: number;
  /** Butexes for Mutex, CondVar and CountdownEvent that can exist at once (default 16384). */
  maxButexes?: number;
  /** A value every worker receives, read in tasks with schedulerData(). */
  data?: unknown;
  /**
   * The timer service for sleeps and timeouts (default: the scheduler starts its own, and stops
   * it on close). Pass one to share a timer thread between schedulers.
   */
  timers?: TimerService;
}

/** Options of `close`. */
export interface CloseOptions {
  /** true (default): let queued and running tasks finish; false: cancel them. */
  drain?: boolean;
  /** Give up waiting after this many milliseconds and end the workers anyway (default 30 s). */
  timeoutMs?: number;
}

/** Options of `run`, passed as its last argument: `run(task, ...args, { signal })`. */
export interface RunOptions {
  /** Aborting cancels the task; the promise rejects with E_CANCELLED. */
  signal: AbortSignal;
}

/** One group's statistics. */
export interface GroupStats {
  tasksRun: number;
  stolen: number;
  stealAttempts: number;
  parks: number;
  signals: number;
  spawned: number;
  finished: number;
  /** Fibers ready to run, as of the group's last park. */
  ready: number;
  deque: number;
  inbox: number;
  remote: number;
  /** Fibers started on the group and not finished, as of its last park. */
  liveFibers: number;
  alive: boolean;
}

/** Statistics of a scheduler. */
export interface SchedulerStats {
  groups: GroupStats[];
  /** Tasks spawned from this thread. */
  spawnedHere: number;
  /** Joins from this thread still waiting. */
  pendingJoins: number;
  /** Workers that died and were replaced. */
  workerDeaths: number;
}

const DEFAULTS = {
  maxTasks: 131_072,
  payloadBytes: 16 * 1024 * 1024,
  dequeCapacity: 4096,
  remoteCapacity: 4096,
  maxTaskFunctions: 4096,
  maxButexes: 16_384,
  closeTimeoutMs: 30_000,
} as const;
const MAX_WORKERS = 64;

function moduleUrls(tasks: SchedulerOptions['tasks']): string[] {
  if (tasks === undefined) return [];
  const list = typeof tasks === 'string' || tasks instanceof URL ? [tasks] : tasks;
  if (!Array.isArray(list)) {
    throw new WeftTypeError(
      ErrorCode.INVALID_ARGUMENT,
      '`tasks` must be a module URL, a path, or a list of them',
    );
  }
  return list.map((entry) => {
    if (entry instanceof URL) return entry.href;
    if (typeof entry !== 'string') {
      throw new WeftTypeError(ErrorCode.INVALID_ARGUMENT, '`tasks` entries must be URLs or paths');
    }
    return /^[a-z][a-z0-9+.-]*:/i.test(entry) ? entry : pathToFileURL(entry).href;
  });
}

function isRunOptions(value: unknown): value is RunOptions {
  // An AbortSignal cannot be a task argument (it is not cloneable), so this is unambiguous.
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as RunOptions).signal instanceof AbortSignal
  );
}

export class Scheduler {
  readonly #block: ControlBlock;
  readonly #catalog: TaskCatalog;
  readonly #endpoint: ThreadEndpoint;
  readonly #modules: string[];
  readonly #data: unknown;
  // One per group: its worker, or undefined when the group runs on this thread (workers: 0).
  readonly #workers: (Worker | undefined)[];
  readonly #localGroup: TaskGroup | undefined;
  readonly #timers: TimerService;
  readonly #ownTimers: boolean;
  // The timer endpoint of each group (its inbox and lot, registered with the timer service).
  readonly #timerEndpoints: number[];
  // Tasks spawned from here that found every remote queue full; submitted as room appears.
  readonly #overflow = new Denque<number>();
  // Groups that can take tasks: false while a dead group's worker is being replaced.
  readonly #alive: boolean[];
  // Values installed for layers above (install), sent to every worker, also to replacements.
  readonly #extensions = new Map<string, unknown>();
  readonly #deathListeners: ((group: number, cause: string) => void)[] = [];
  readonly #exited = new WeakSet<Worker>();
  #nextGroup = 0;
  #spawned = 0;
  #deaths = 0;
  #closing: Promise<void> | undefined;
  #closed = false;

  /** Starts the scheduler: lays out memory, starts the workers, checks their task registries. */
  static async start(options: SchedulerOptions = {}): Promise<Scheduler> {
    const workers = options.workers ?? availableParallelism();
    requireInteger(workers, 0, MAX_WORKERS, 'Scheduler workers');
    const maxTasks = options.maxTasks ?? DEFAULTS.maxTasks;
    requireInteger(maxTasks, 1, 2 ** 24, 'Scheduler maxTasks');
    const payloadBytes = options.payloadBytes ?? DEFAULTS.payloadBytes;
    requireInteger(payloadBytes, 64 * 1024, 2 ** 31, 'Scheduler payloadBytes');
    const maxButexes = options.maxButexes ?? DEFAULTS.maxButexes;
    requireInteger(maxButexes, 1, 2 ** 24, 'Scheduler maxButexes');
    const modules = moduleUrls(options.tasks);
    const sizes: ControlSizes = {
      groups: Math.max(1, workers),
      externals: 1,
      maxTasks,
      dequeCapacity: DEFAULTS.dequeCapacity,
      remoteCapacity: DEFAULTS.remoteCapacity,
      payloadBytes,
      maxTaskFunctions: DEFAULTS.maxTaskFunctions,
      maxButexes,
    };

    const ownTimers = options.timers === undefined;
    const timers =
      options.timers ?? (await TimerService.start({ capacity: Math.max(maxTasks, 4096) }));
    try {
      return await Scheduler.#start(workers, sizes, modules, options.data, timers, ownTimers);
    } catch (error) {
      if (ownTimers) await timers.stop();
      throw error;
    }
  }

  static async #start(
    workers: number,
    sizes: ControlSizes,
    modules: string[],
    data: unknown,
    timers: TimerService,
    ownTimers: boolean,
  ): Promise<Scheduler> {
    const launch = (block: ControlBlock, names: string[], threads: (Worker | undefined)[]) =>
      new Scheduler(block, new TaskCatalog(names), modules, data, threads, timers, ownTimers);
    if (workers === 0) {
      for (const url of modules) await import(url);
      const names = registeredNames();
      return launch(ControlBlock.create(sizes, names), names, [undefined]);
    }

    const booted = await Promise.allSettled(
      Array.from({ length: workers }, (_, index) => bootWorker(index, modules, data)),
    );
    const failure = booted.find((result) => result.status === 'rejected');
    const ready = booted.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    try {
      if (failure !== undefined) throw failure.reason;
      const names = ready[0].names;
      for (const [index, boot] of ready.entries()) checkRegistry(index, boot.names, names);
      const block = ControlBlock.create(sizes, names);
      const scheduler = launch(
        block,
        names,
        ready.map((boot) => boot.worker),
      );
      for (const [index, { worker }] of ready.entries()) {
        startWorker(worker, {
          buffer: block.buffer,
          sizes,
          names,
          timers: scheduler.#timersFor(index),
          extensions: [],
        });
      }
      return scheduler;
    } catch (error) {
      await Promise.all(ready.map(({ worker }) => worker.terminate()));
      throw error;
    }
  }

  private constructor(
    block: ControlBlock,
    catalog: TaskCatalog,
    modules: string[],
    data: unknown,
    workers: (Worker | undefined)[],
    timers: TimerService,
    ownTimers: boolean,
  ) {
    this.#timers = timers;
    this.#ownTimers = ownTimers;
    this.#timerEndpoints = workers.map((_, g) =>
      timers.addEndpoint(block.buffer, block.inboxes[g].byteOffset, block.lots[g].byteOffset),
    );
    this.#block = block;
    this.#catalog = catalog;
    this.#modules = modules;
    this.#data = data;
    this.#workers = workers;
    this.#alive = workers.map(() => true);
    block.table.revive = (value, bytes) => reviveSyncPrimitives(value, bytes, block);
    registerScheduler(this, block);
    const groups = block.groups;
    this.#endpoint = new ThreadEndpoint(block, groups, workers[0] !== undefined);
    if (workers[0] === undefined) {
      this.#localGroup = new TaskGroup(block, catalog, 0, {
        data,
        timers: this.#timersFor(0),
        worker: false,
      });
      this.#localGroup.run();
    } else {
      for (const [index, worker] of workers.entries()) this.#supervise(worker as Worker, index);
    }
  }

  /** Number of groups (worker threads, or 1 with `workers: 0`). */
  get groups(): number {
    return this.#block.groups;
  }

  /** The task names every group registered, in fnId order. */
  get tasks(): readonly string[] {
    return this.#catalog.names;
  }

  /**
   * Spawns a task from this thread: it goes to a group's remote queue and that group is woken.
   * Returns its id; join it (or detach it) to release its slot when it is done.
   */
  spawn<T extends TaskRef>(ref: T, ...args: TaskArgs<T>): TaskId<TaskResult<T>> {
    this.#requireOpen();
    const id = this.#block.table.create(this.#catalog.idOf(ref), args);
    this.#spawned++;
    this.#submit(id >>> 0);
    return id as TaskId<TaskResult<T>>;
  }

  /** Waits for a task; resolves with its result or rejects with its error (E_TIMEOUT on timeout). */
  join<R>(id: TaskId<R>, options?: JoinOptions): Promise<R> {
    if (this.#closed) return Promise.reject(this.#closedError('join'));
    return this.#endpoint.join(id, options?.timeout) as Promise<R>;
  }

  /**
   * Spawns a task and waits for it. A last argument `{ signal }` (an AbortSignal) cancels the task
   * when aborted.
   */
  run<T extends TaskRef>(
    ref: T,
    ...args: TaskArgs<T> | [...TaskArgs<T>, RunOptions]
  ): Promise<TaskResult<T>> {
    const last = args[args.length - 1];
    const signal = isRunOptions(last) ? last.signal : undefined;
    const taskArgs = (signal === undefined ? args : args.slice(0, -1)) as TaskArgs<T>;
    let id: TaskId<TaskResult<T>>;
    try {
      id = this.spawn(ref, ...taskArgs);
    } catch (error) {
      return Promise.reject(error);
    }
    if (signal === undefined) return this.join(id);
    const abort = () => this.cancel(id);
    if (signal.aborted) abort();
    else signal.addEventListener('abort', abort, { once: true });
    return this.join(id).finally(() => signal.removeEventListener('abort', abort));
  }

  /** Cancels a task (see `cancel` inside fibers); E_STALE_ID for an id that names no task. */
  cancel(id: TaskId<unknown>): void {
    if (!this.#block.requestCancel(id)) throw staleTaskError(id, 'cancel');
  }

  /** Drops the right to join a task: its result is discarded when it finishes. */
  detach(id: TaskId<unknown>): void {
    if (!this.#block.table.detach(id)) throw staleTaskError(id, 'detach');
  }

  // ---- For layers above the scheduler (see extensions.ts) ----

  /**
   * Makes `value` (structured-cloneable; SharedArrayBuffers stay shared) available to tasks as
   * `installed(name)`, on every worker and on each worker that later replaces a dead one.
   * Resolves once every worker has it.
   */
  async install(name: string, value: unknown): Promise<void> {
    this.#requireOpen();
    if (typeof name !== 'string' || name === '') {
      throw new WeftTypeError(ErrorCode.INVALID_ARGUMENT, 'install needs a non-empty name');
    }
    // What postMessage would refuse must be refused here, before it is recorded: a recorded value
    // also goes to every replacement of a dead worker.
    try {
      structuredClone(value);
    } catch (cause) {
      throw new WeftError(
        ErrorCode.NOT_CLONEABLE,
        `install("${name}"): the value cannot be sent to the workers (${(cause as Error).message})`,
        { cause },
      );
    }
    this.#extensions.set(name, value);
    setInstalled(this.#block, name, value);
    await Promise.all(
      this.#workers.map((worker, index) => {
        // (A group being replaced gets the value with its new worker's start.)
        if (worker === undefined || !this.#alive[index]) return undefined;
        return new Promise<void>((resolve, reject) => {
          // A worker that dies meanwhile gets the value with its replacement's start.
          const gone = () => {
            worker.off('message', answer);
            resolve();
          };
          const answer = (reply: { type: string; name: string }) => {
            if (reply.type !== 'installed' || reply.name !== name) return;
            worker.off('message', answer);
            worker.off('exit', gone);
            resolve();
          };
          worker.on('message', answer);
          worker.once('exit', gone);
          try {
            worker.postMessage({ type: 'install', name, value } satisfies InstallMessage);
          } catch (error) {
            worker.off('message', answer);
            worker.off('exit', gone);
            reject(error);
          }
        });
      }),
    );
  }

  /**
   * Calls `listener(group, cause)` on this thread when a worker dies, after its tasks were
   * recovered and before its replacement starts (so that layers above clear what the dead thread
   * held and the new group starts clean). Returns a function that removes the listener.
   */
  onWorkerDeath(listener: (group: number, cause: string) => void): () => void {
    this.#deathListeners.push(listener);
    return () => {
      const at = this.#deathListeners.indexOf(listener);
      if (at >= 0) this.#deathListeners.splice(at, 1);
    };
  }

  /** Where each group's parking lot is: signal one (ParkingLot.attach) to make it poll. */
  get groupLots(): GroupLots {
    const { buffer, lots, groups } = this.#block;
    return { buffer, offsets: lots.slice(0, groups).map((lot) => lot.byteOffset) };
  }

  /** Per-group counters and queue lengths (counters are published by groups when they park). */
  stats(): SchedulerStats {
    const block = this.#block;
    const groups = Array.from({ length: block.groups }, (_, g): GroupStats => {
      const read = (counter: number) => block.counters.readThread(g, counter);
      const status = block.status[g];
      return {
        tasksRun: read(Counter.TASKS_RUN),
        stolen: read(Counter.STOLEN),
        stealAttempts: read(Counter.STEAL_ATTEMPTS),
        parks: read(Counter.PARKS),
        signals: read(Counter.SIGNALS),
        spawned: read(Counter.SPAWNED),
        finished: read(Counter.FINISHED),
        ready: status[GroupStatus.READY],
        deque: block.deques[g].size(),
        inbox: block.inboxes[g].size(),
        remote: block.remotes[g].size(),
        liveFibers: status[GroupStatus.LIVE_FIBERS],
        alive: Atomics.load(status, GroupStatus.ALIVE) === 1,
      };
    });
    return {
      groups,
      spawnedHere: this.#spawned,
      pendingJoins: this.#endpoint.pending,
      workerDeaths: this.#deaths,
    };
  }

  /**
   * Finishes (drain: true, the default) or cancels (drain: false) the outstanding work, stops every
   * group and ends the workers. Later calls return the same promise; other calls then fail with
   * E_CLOSED.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.#closing ??= this.#close(
      options.drain ?? true,
      options.timeoutMs ?? DEFAULTS.closeTimeoutMs,
    );
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(drain: boolean, timeoutMs: number): Promise<void> {
    const { control, table } = this.#block;
    Atomics.store(control, Control.DRAIN, drain ? 1 : 0);
    Atomics.store(control, Control.CLOSING, 1);
    const deadline = Date.now() + timeoutMs;
    if (!drain) {
      for (let slot = 0; slot < table.capacity; slot++) {
        const state = table.stateOf(slot);
        if (state === TaskState.QUEUED || state === TaskState.RUNNING) {
          const id = table.pool.idAt(slot);
          if (id !== -1) this.#block.requestCancel(id);
        }
      }
    }
    // Wait for every queued and running task to finish (or be cancelled), and their joins here.
    while (
      Date.now() < deadline &&
      (this.#overflow.length > 0 || this.#outstanding() > 0 || this.#endpoint.pending > 0)
    ) {
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    this.#closed = true;
    this.#endpoint.abandon(this.#closedError('join'));
    for (const lot of this.#block.lots) lot.stop();
    await Promise.all(
      this.#workers.map((worker) =>
        // (A dead worker whose replacement is still starting has exited already.)
        worker === undefined || this.#exited.has(worker)
          ? undefined
          : new Promise<void>((resolve) => {
              worker.ref(); // keep the process alive until it has exited
              worker.once('exit', () => resolve());
              setTimeout(() => void worker.terminate(), Math.max(0, deadline - Date.now())).unref();
            }),
      ),
    );
    if (this.#ownTimers) await this.#timers.stop();
  }

  // What group `index` needs to use the timer service.
  #timersFor(index: number): { handle: TimerService['handle']; endpoint: number } {
    return { handle: this.#timers.handle, endpoint: this.#timerEndpoints[index] };
  }

  #outstanding(): number {
    const table = this.#block.table;
    let count = 0;
    for (let slot = 0; slot < table.capacity; slot++) {
      const state = table.stateOf(slot);
      if (state === TaskState.QUEUED || state === TaskState.RUNNING) count++;
    }
    return count;
  }

  #requireOpen(): void {
    if (this.#closing !== undefined) throw this.#closedError('spawn');
  }

  #closedError(what: string): WeftError {
    return new WeftError(ErrorCode.CLOSED, `cannot ${what}: the scheduler is closed or closing`);
  }

  // Queues a task slot on a live group's remote queue, round-robin, and wakes that group.
  #submit(slot: number): void {
    if (this.#overflow.length > 0 || !this.#tryPush(slot)) {
      this.#overflow.push(slot);
      if (this.#overflow.length === 1) setImmediate(this.#flushOverflow);
    }
  }

  #tryPush(slot: number): boolean {
    const { remotes, lots, status } = this.#block;
    const groups = remotes.length;
    // An idle, spinning group takes the task within a microsecond, with no wake-up to pay.
    for (let g = 0; g < groups; g++) {
      if (Atomics.load(status[g], GroupStatus.SPINNING) === 1 && remotes[g].tryPush(slot)) {
        lots[g].signal();
        return true;
      }
    }
    for (let i = 0; i < groups; i++) {
      const g = (this.#nextGroup + i) % groups;
      if (!this.#alive[g]) continue;
      if (remotes[g].tryPush(slot)) {
        lots[g].signal();
        this.#nextGroup = g + 1 === groups ? 0 : g + 1;
        return true;
      }
    }
    return false;
  }

  readonly #flushOverflow = (): void => {
    while (this.#overflow.length > 0 && this.#tryPush(this.#overflow.peekFront() as number)) {
      this.#overflow.shift();
    }
    if (this.#overflow.length > 0) setTimeout(this.#flushOverflow, 1);
  };

  // Watches a group's worker; replaces it if it dies while the scheduler is open.
  #supervise(worker: Worker, index: number): void {
    worker.unref();
    let cause = 'it exited';
    worker.on('error', (error) => {
      cause = `uncaught ${error.name}: ${error.message}`;
    });
    worker.once('exit', (code) => {
      this.#exited.add(worker);
      if (this.#closing !== undefined) return;
      if (cause === 'it exited') cause = `it exited with code ${code}`;
      void this.#replace(index, cause);
    });
  }

  async #replace(index: number, cause: string): Promise<void> {
    this.#deaths++;
    this.#alive[index] = false;
    const requeue = recoverDeadGroup(this.#block, index, cause);
    for (const listener of this.#deathListeners) {
      try {
        listener(index, cause);
      } catch (error) {
        process.emitWarning(`weft: an onWorkerDeath listener threw: ${(error as Error)?.message}`);
      }
    }
    try {
      const { worker, names } = await bootWorker(index, this.#modules, this.#data);
      checkRegistry(index, names, this.#catalog.names);
      if (this.#closing !== undefined) {
        await worker.terminate();
        return;
      }
      this.#workers[index] = worker;
      this.#supervise(worker, index);
      startWorker(worker, {
        buffer: this.#block.buffer,
        sizes: this.#block.sizes,
        names,
        timers: this.#timersFor(index),
        extensions: [...this.#extensions],
      });
      this.#alive[index] = true;
    } catch (error) {
      // Cannot replace it: the remaining groups carry on; its queues stay empty.
      process.emitWarning(`weft: could not replace worker ${index}: ${(error as Error).message}`);
    }
    for (const slot of requeue) this.#submit(slot);
  }
}
