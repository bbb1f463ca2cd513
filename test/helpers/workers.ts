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
    worker.once('exit', (code) => reject(new Error(`${name} exited (code ${code}) without a result`)));
  });
}

/**
 * Starts one worker running `script` per entry of `workerData`, and resolves with their results
 * in the same order once all have posted one. Rejects if any worker fails or if `timeoutMs`
 * passes first.
 */
export async function runWorkers<T>(
  script: URL,
  workerData: readonly unknown[],
  timeoutMs: number,
): Promise<T[]> {
  const workers = workerData.map((data) => new Worker(script, { workerData: data }));
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new Error(`workers did not finish within ${timeoutMs} ms: lost wake-up or deadlock?`)),
      timeoutMs,
    );
  });
  try {
    const name = script.pathname.split('/').pop() ?? 'worker';
    return await Promise.race([
      Promise.all(workers.map((worker, i) => resultOf<T>(worker, `${name} #${i}`))),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

/** A URL for a worker script beside the calling test, e.g. `workerUrl(import.meta.url, 'x.ts')`. */
export function workerUrl(testUrl: string, file: string): URL {
  return new URL(`./workers/${file}`, testUrl);
}
