/**
 * Runs worker threads for a stress test and collects what each one posts back.
 *
 * Every run has its own deadline: a lost wake-up or a deadlock makes the run reject with a clear
 * message instead of stalling the test suite, and every worker is terminated either way.
 */
import { Worker } from 'node:worker_threads';

function resultOf<T>(worker: Worker, name: string): Promise<T> {
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) =>
      reject(new Error(`${name} exited (code ${code}) without a result`)),
    );
  });
}

/** One worker to run: its script and its `workerData`. */
export interface WorkerJob {
  script: URL;
  data: unknown;
}

/**
 * Starts one worker per job and resolves with their results, in job order, once each has posted
 * one. Rejects if any worker fails or if `timeoutMs` passes first.
 */
export async function runWorkers<T>(jobs: readonly WorkerJob[], timeoutMs: number): Promise<T[]> {
  const workers = jobs.map((job) => new Worker(job.script, { workerData: job.data }));
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(`workers did not finish within ${timeoutMs} ms: lost wake-up or deadlock?`),
        ),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([
      Promise.all(
        workers.map((worker, i) => resultOf<T>(worker, `${jobs[i].script.pathname} (job ${i})`)),
      ),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

/** The URL of a worker script in the `workers/` folder beside the calling test file. */
export function workerUrl(testUrl: string, file: string): URL {
  return new URL(`./workers/${file}`, testUrl);
}
