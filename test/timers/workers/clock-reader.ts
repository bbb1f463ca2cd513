// Reads the timer clock each time the main thread raises a flag, and reports how far its reading
// is from the main thread's reading just before the flag went up.
import { parentPort, workerData } from 'node:worker_threads';
import { now } from '@weft/timers';

const { buffer, rounds } = workerData as { buffer: SharedArrayBuffer; rounds: number };
const flag = new Int32Array(buffer, 0, 2);
const stamps = new Float64Array(buffer, 8, 1);
const gaps: number[] = [];
for (let round = 1; round <= rounds; round++) {
  while (Atomics.load(flag, 0) !== round) Atomics.wait(flag, 0, round - 1, 100);
  gaps.push(now() - stamps[0]);
  Atomics.store(flag, 1, round);
  Atomics.notify(flag, 1);
}
parentPort!.postMessage(gaps);
