// Owner of a WorkStealingDeque under attack: pushes `items` distinct values, pops some of them
// itself, and pops whatever is left once all are pushed. Records every value it takes in `seen`.
import { parentPort, workerData } from 'node:worker_threads';
import { WorkStealingDeque } from '@weft/shm';

const { buffer, dequeAt, seenAt, controlAt, items, thieves } = workerData;
const deque = WorkStealingDeque.attach(buffer, dequeAt);
const seen = new Uint8Array(buffer, seenAt, items);
const control = new Int32Array(buffer, controlAt, 2); // [thieves ready, owner done]

while (Atomics.load(control, 0) < thieves) Atomics.wait(control, 0, Atomics.load(control, 0), 10);

let taken = 0;
function take(value: number | undefined): void {
  if (value === undefined) return;
  Atomics.add(seen, value, 1);
  taken++;
}

for (let value = 0; value < items; value++) {
  while (!deque.push(value)) take(deque.pop());
  if (value % 7 === 0) take(deque.pop());
}
for (let value = deque.pop(); value !== undefined; value = deque.pop()) take(value);
Atomics.store(control, 1, 1);
parentPort!.postMessage({ taken });
