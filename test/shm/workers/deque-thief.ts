// A thief: steals from the deque until the owner is done and the deque is empty, recording every
// value it takes in `seen`.
import { parentPort, workerData } from 'node:worker_threads';
import { WorkStealingDeque } from '@weft/shm';

const { buffer, dequeAt, seenAt, controlAt, items } = workerData;
const deque = WorkStealingDeque.attach(buffer, dequeAt);
const seen = new Uint8Array(buffer, seenAt, items);
const control = new Int32Array(buffer, controlAt, 2); // [thieves ready, owner done]

Atomics.add(control, 0, 1);
Atomics.notify(control, 0);

let taken = 0;
for (;;) {
  const value = deque.steal();
  if (value !== undefined) {
    Atomics.add(seen, value, 1);
    taken++;
  } else if (Atomics.load(control, 1) === 1 && deque.size() === 0) {
    break;
  }
}
parentPort!.postMessage({ taken });
