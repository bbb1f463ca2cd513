// Increments a plain shared counter under a mutex built on a Butex (the three-state futex mutex
// from Drepper's "Futexes Are Tricky": 0 unlocked, 1 locked, 2 locked with waiters). A lost
// wake-up hangs; a broken exclusion loses increments.
import { parentPort, workerData } from 'node:worker_threads';
import { Butex } from '@weft/shm';

const { buffer, butexAt, counterAt, startAt, threads, rounds } = workerData;
const lock = Butex.attach(buffer, butexAt);
const counter = new Int32Array(buffer, counterAt, 1);
const start = new Int32Array(buffer, startAt, 1);

let waits = 0;
function acquire(): void {
  let state = lock.compareExchange(0, 1);
  if (state === 0) return;
  if (state !== 2) state = lock.exchange(2);
  while (state !== 0) {
    waits++;
    lock.wait(2);
    state = lock.exchange(2);
  }
}

function release(): void {
  if (lock.add(-1) !== 1) {
    lock.store(0);
    lock.wake(1);
  }
}

// Start together, so that the threads really contend.
Atomics.add(start, 0, 1);
Atomics.notify(start, 0);
while (Atomics.load(start, 0) < threads) Atomics.wait(start, 0, Atomics.load(start, 0), 10);

for (let i = 0; i < rounds; i++) {
  acquire();
  // Plain read-modify-writes, spread out to widen the window: only exclusion keeps them exact.
  for (let j = 0; j < 8; j++) counter[0] = counter[0] + 1;
  release();
}
parentPort!.postMessage({ waits });
