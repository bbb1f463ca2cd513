/**
 * Running one benchmark across several worker threads, in rounds that start together.
 *
 * A parallel figure is only honest if every thread starts its timed work at the same moment and
 * nothing else is timed: not worker start-up (~30 ms each here), not module loading, not the
 * JIT's first compile. So each round goes:
 *
 *   1. every worker does its set-up, posts 'ready' and blocks on a shared gate word;
 *   2. the main thread, once all are ready, opens the gate with one Atomics.store + notify;
 *   3. each worker reads the clock, runs its part, reads the clock again and posts the result.
 *
 * A round's wall time is from the earliest start to the latest end (process.hrtime is one clock
 * for every thread of a process). Benchmarks usually discard the first round as warm-up.
 *
 * The main thread only waits (its event loop stays free for progress output). Workers exit on
 * their own after the last round; a round that does not finish within the deadline, or a worker
 * that throws or exits early, fails the run loudly and the workers are terminated.
 *
 * The worker side is `runRounds(part)`: it reads its data with `threadData()` and calls `part`
 * once per round.
 */
import { parentPort, Worker, workerData } from 'node:worker_threads';

// One thread's outcome of one round: its clock readings (ns) and what its part returned.
interface ThreadResult<R> {
  start: number;
  end: number;
  value: R;
}

/** One round across all threads: its wall time in ns and each thread's result, in data order. */
export interface Round<R> {
  wallNs: number;
  results: R[];
}

/** How to run the threads of a benchmark. */
export interface ThreadRunOptions {
  /** Rounds to run, warm-up included. */
  rounds: number;
  /** A round that takes longer than this fails (default 60 s). */
  timeoutMs?: number;
}

interface WorkerInput {
  gate: Int32Array;
  rounds: number;
  data: unknown;
}

type WorkerMessage =
  | { kind: 'ready'; round: number }
  | { kind: 'result'; round: number; result: ThreadResult<unknown> };
type Kind = WorkerMessage['kind'];

/**
 * Starts one worker running `script` per entry of `data` (its `threadData()`), runs
 * `options.rounds` rounds and returns them in order.
 */
export async function runThreads<R>(
  script: URL,
  data: readonly unknown[],
  options: ThreadRunOptions,
): Promise<Round<R>[]> {
  const { rounds, timeoutMs = 60_000 } = options;
  const gate = new Int32Array(new SharedArrayBuffer(4));
  const workers = data.map((entry) => {
    const input: WorkerInput = { gate, rounds, data: entry };
    return new Worker(script, { workerData: input });
  });
  const inbox = new Inbox(workers, script);
  try {
    const results: Round<R>[] = [];
    for (let round = 1; round <= rounds; round++) {
      await inbox.collect('ready', round, timeoutMs);
      Atomics.store(gate, 0, round);
      Atomics.notify(gate, 0);
      const done = await inbox.collect('result', round, timeoutMs);
      const threads = done.map((message) => message.result as ThreadResult<R>);
      results.push({
        wallNs: Math.max(...threads.map((t) => t.end)) - Math.min(...threads.map((t) => t.start)),
        results: threads.map((t) => t.value),
      });
    }
    await inbox.exits(timeoutMs);
    return results;
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

// Gathers the workers' messages, so a round can wait for one kind of message from all of them,
// and turns a worker's error or early exit into a failure of the run.
class Inbox {
  readonly #script: URL;
  readonly #pending: WorkerMessage[][];
  readonly #exited: boolean[];
  #failure: Error | undefined;
  #wakeUp: () => void = () => {};

  constructor(workers: Worker[], script: URL) {
    this.#script = script;
    this.#pending = workers.map(() => []);
    this.#exited = workers.map(() => false);
    workers.forEach((worker, index) => {
      worker.on('message', (message: WorkerMessage) => {
        this.#pending[index].push(message);
        this.#wakeUp();
      });
      worker.on('error', (error) => this.#fail(error));
      // Node delivers a worker's last messages before its 'exit' event.
      worker.on('exit', (code) => {
        this.#exited[index] = true;
        if (code !== 0) this.#fail(new Error(`${this.#name(index)} exited with code ${code}`));
        this.#wakeUp();
      });
    });
  }

  // Waits until every worker has sent `kind` for `round`; returns those messages in worker order.
  async collect<K extends Kind>(kind: K, round: number, timeoutMs: number) {
    const what = `${kind} of round ${round}`;
    await this.#until(
      () => {
        const gone = this.#pending.findIndex((queue, i) => queue.length === 0 && this.#exited[i]);
        if (gone >= 0) throw new Error(`${this.#name(gone)} exited before its ${what}`);
        return this.#pending.every((queue) => queue.length > 0);
      },
      what,
      timeoutMs,
    );
    return this.#pending.map((queue, index) => {
      const message = queue.shift()!;
      if (message.kind !== kind || message.round !== round) {
        throw new Error(`${this.#name(index)} sent ${message.kind} ${message.round}, not ${what}`);
      }
      return message as Extract<WorkerMessage, { kind: K }>;
    });
  }

  async exits(timeoutMs: number): Promise<void> {
    await this.#until(() => this.#exited.every(Boolean), 'worker exits', timeoutMs);
  }

  async #until(ready: () => boolean, what: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.#failure) throw this.#failure;
      if (ready()) return;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`${this.#name()}: no ${what} within ${timeoutMs} ms (a hang?)`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    this.#wakeUp();
  }

  #name(index?: number): string {
    const file = this.#script.pathname.split('/').pop();
    return index === undefined ? `${file} threads` : `${file} #${index}`;
  }
}

// ---- Worker side -------------------------------------------------------------------------------

/** In a worker started by `runThreads`: this thread's entry of `data`. */
export function threadData<T>(): T {
  return (workerData as WorkerInput).data as T;
}

/**
 * In a worker started by `runThreads`: for each round, reports ready, waits for the gate, then
 * times `part(round)` and posts the result. Set-up done before this call is not timed.
 */
export function runRounds<R>(part: (round: number) => R): void {
  const { gate, rounds } = workerData as WorkerInput;
  const port = parentPort!;
  for (let round = 1; round <= rounds; round++) {
    port.postMessage({ kind: 'ready', round } satisfies WorkerMessage);
    for (let open = Atomics.load(gate, 0); open < round; open = Atomics.load(gate, 0)) {
      Atomics.wait(gate, 0, open);
    }
    const start = Number(process.hrtime.bigint());
    const value = part(round);
    const end = Number(process.hrtime.bigint());
    port.postMessage({
      kind: 'result',
      round,
      result: { start, end, value },
    } satisfies WorkerMessage);
  }
}
