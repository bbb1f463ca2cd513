// Reads every row while writers add to them: each value must be a whole number of deltas and
// must never go backwards; a torn 64-bit read would break both.
import { parentPort, workerData } from 'node:worker_threads';
import { PerThreadCounter } from '@weft/shm';

const { buffer, counterAt, writers, delta, rounds, doneAt } = workerData;
const counter = PerThreadCounter.attach(buffer, counterAt);
const done = new Int32Array(buffer, doneAt, 1); // writers finished
const last = new Array<number>(writers).fill(0);
const errors: string[] = [];
let reads = 0;

while (Atomics.load(done, 0) < writers || reads === 0) {
  for (let thread = 0; thread < writers; thread++) {
    const value = counter.readThread(thread);
    if (value % delta !== 0 || value < last[thread] || value > rounds * delta) {
      if (errors.length < 10) errors.push(`row ${thread}: read ${value} after ${last[thread]}`);
    }
    last[thread] = value;
    reads++;
  }
  if (counter.read() % delta !== 0 && errors.length < 10) errors.push('sum is not whole deltas');
}
parentPort!.postMessage({ errors, reads });
