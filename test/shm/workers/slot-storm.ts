// One of several threads allocating, freeing and handing slot ids to each other at random. A
// shared `owner` word per slot, claimed by CAS on every alloc, catches an id handed out twice.
import { parentPort, workerData } from 'node:worker_threads';
import { MpscQueue, SlotPool } from '@weft/shm';

const { buffer, poolAt, ownerAt, inboxAt, barrierAt, me, threads, iterations, maxHeld, seed } =
  workerData;
const pool = SlotPool.attach(buffer, poolAt);
const owner = new Int32Array(buffer, ownerAt, pool.capacity);
const inboxes = (inboxAt as number[]).map((at) => MpscQueue.attach(buffer, at));
const barrier = new Int32Array(buffer, barrierAt, 1);

let state = seed >>> 0 || 1;
function random(below: number): number {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) % below;
}

const held: number[] = [];
const stale: number[] = [];
const errors: string[] = [];
const counts = { allocs: 0, exhausted: 0, frees: 0, handedOff: 0, received: 0, staleRejected: 0 };

function fail(message: string): void {
  if (errors.length < 10) errors.push(message);
}

function claim(id: number): void {
  const slot = id >>> 0;
  const previous = Atomics.compareExchange(owner, slot, 0, me + 1);
  if (previous !== 0)
    fail(`slot ${slot} handed to thread ${me} while thread ${previous - 1} holds it`);
  if (pool.resolve(id) !== slot) fail(`fresh id ${id} does not resolve to slot ${slot}`);
  held.push(id);
}

function takeRandomHeld(): number {
  const i = random(held.length);
  const id = held[i];
  held[i] = held[held.length - 1];
  held.pop();
  return id;
}

function free(id: number): void {
  Atomics.store(owner, id >>> 0, 0);
  if (!pool.free(id)) fail(`free of held id ${id} failed`);
  counts.frees++;
  stale.push(id);
  if (stale.length > 16) stale.shift();
}

function drainInbox(): void {
  for (let slot = inboxes[me].pop(); slot !== undefined; slot = inboxes[me].pop()) {
    const id = pool.idAt(slot);
    if (id === -1 || Atomics.load(owner, slot) !== me + 1) fail(`handed slot ${slot} is not ours`);
    held.push(id);
    counts.received++;
  }
}

for (let i = 0; i < iterations; i++) {
  const roll = random(100);
  if (roll < 45 && held.length < maxHeld) {
    const id = pool.alloc();
    if (id === -1) counts.exhausted++;
    else {
      counts.allocs++;
      claim(id);
    }
  } else if (roll < 80 && held.length > 0) {
    free(takeRandomHeld());
  } else if (roll < 90 && held.length > 0) {
    const id = takeRandomHeld();
    const target = (me + 1 + random(threads - 1)) % threads;
    Atomics.store(owner, id >>> 0, target + 1);
    if (inboxes[target].tryPush(id >>> 0)) counts.handedOff++;
    else {
      Atomics.store(owner, id >>> 0, me + 1);
      held.push(id);
    }
  } else if (roll < 95 && stale.length > 0) {
    const id = stale[random(stale.length)];
    if (pool.free(id) || pool.resolve(id) !== -1) fail(`stale id ${id} was accepted`);
    counts.staleRejected++;
  } else {
    drainInbox();
  }
}

// Wait until nobody hands out slots any more, then give everything back.
Atomics.add(barrier, 0, 1);
Atomics.notify(barrier, 0);
while (Atomics.load(barrier, 0) < threads) Atomics.wait(barrier, 0, Atomics.load(barrier, 0), 10);
drainInbox();
while (held.length > 0) free(held.pop()!);
pool.flushCache();
parentPort!.postMessage({ errors, counts });
