// Adds a large delta to its own counter row many times, so that each cell crosses 32-bit
// boundaries while a reader watches for torn values.
import { parentPort, workerData } from 'node:worker_threads';
import { PerThreadCounter } from '@weft/shm';

const { buffer, counterAt, thread, delta, rounds, doneAt } = workerData;
const counter = PerThreadCounter.attach(buffer, counterAt);
for (let i = 0; i < rounds; i++) counter.add(thread, delta);
Atomics.add(new Int32Array(buffer, doneAt, 1), 0, 1);
parentPort!.postMessage({ done: true });
