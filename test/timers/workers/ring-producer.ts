// Pushes `count` records into a timer bucket: id `2^32 * (producer + 1) + i`, deadline derived
// from the id (so a torn record shows). With `claim`, it first claims the owned ring through the
// claim word, and gives the word back when done (an ownership hand-over).
import { parentPort, workerData } from 'node:worker_threads';
import { OwnedTimerRing } from '../../../packages/timers/src/owned-timer-ring.ts';
import { TimerRing } from '../../../packages/timers/src/timer-ring.ts';

interface Job {
  kind: 'owned' | 'shared';
  buffer: SharedArrayBuffer;
  claims: SharedArrayBuffer;
  capacity: number;
  producer: number;
  count: number;
}
const { kind, buffer, claims, capacity, producer, count } = workerData as Job;
const claim = new Int32Array(claims);
let ring: OwnedTimerRing | TimerRing;
if (kind === 'owned') {
  while (Atomics.compareExchange(claim, 0, 0, 1) !== 0) Atomics.wait(claim, 0, 1, 1);
  const owned = new OwnedTimerRing(buffer, 0, capacity);
  owned.own();
  ring = owned;
} else {
  ring = new TimerRing(buffer, 0, capacity);
}
let fulls = 0;
for (let i = 0; i < count; i++) {
  const id = 2 ** 32 * (producer + 1) + i;
  while (ring.push(id, id / 3) === -1) fulls++;
}
if (kind === 'owned') {
  Atomics.store(claim, 0, 0);
  Atomics.notify(claim, 0);
}
parentPort!.postMessage(fulls);
