import test from 'ava';
import { OwnedTimerRing } from '../../packages/timers/src/owned-timer-ring.ts';
import { TimerRing } from '../../packages/timers/src/timer-ring.ts';
import { runWorkers } from '../helpers/workers.ts';

const producerScript = new URL('./workers/ring-producer.ts', import.meta.url);
const CAPACITY = 64; // tiny: the rings wrap and fill thousands of times
const PER_PRODUCER = 200_000;

type Ring = OwnedTimerRing | TimerRing;

/**
 * Drains `ring` while `producers` workers push PER_PRODUCER records each (see
 * workers/ring-producer.ts), checking every record against what its producer sent.
 */
async function pushAndDrain(ring: Ring, kind: 'owned' | 'shared', buffer: SharedArrayBuffer) {
  const claims = new SharedArrayBuffer(4);
  const jobs = [0, 1].map((producer) => ({
    script: producerScript,
    data: { kind, buffer, claims, capacity: CAPACITY, producer, count: PER_PRODUCER },
  }));
  const running = runWorkers<number>(jobs, 50_000);
  let finished = false;
  void running.then(
    () => (finished = true),
    () => (finished = true),
  );
  const next = [0, 0];
  const faults: string[] = [];
  let received = 0;
  const take = (id: number, deadline: number) => {
    received++;
    if (faults.length >= 10) return; // a broken ring can hand over garbage without end
    const producer = Math.floor(id / 2 ** 32) - 1;
    const index = id >>> 0;
    if (deadline !== id / 3) faults.push(`torn record ${id}: deadline ${deadline}`);
    else if (index !== next[producer]) {
      faults.push(`producer ${producer}: expected record ${next[producer]}, got ${index}`);
    }
    next[producer] = index + 1;
  };
  // Drain until everything came, or the producers finished and nothing more is there.
  while (received < 2 * PER_PRODUCER && faults.length === 0) {
    if (ring.drain(take) > 0) continue;
    if (finished && !ring.hasRecords()) break;
    await new Promise((resolve) => setImmediate(resolve));
  }
  const fulls = await running;
  return { received, faults, fulls: fulls[0] + fulls[1] };
}

test('an owned ring hands every record over once, in order and untorn, across owners', async (t) => {
  t.timeout(60_000);
  const buffer = new SharedArrayBuffer(OwnedTimerRing.bytesFor(CAPACITY));
  const ring = new OwnedTimerRing(buffer, 0, CAPACITY);
  t.false(ring.hasRecords());
  // The two producers own the ring one after the other, through a claim word: the second
  // takes up the tail the first left.
  const { received, faults, fulls } = await pushAndDrain(ring, 'owned', buffer);
  t.deepEqual(faults, [], 'no lost, duplicated, reordered or torn record');
  t.is(received, 2 * PER_PRODUCER);
  t.false(ring.hasRecords());
  t.log(`the producers found the ring full ${fulls} times`);
});

test('a shared ring takes two producers at once: every record once, each producer in order', async (t) => {
  t.timeout(60_000);
  const buffer = new SharedArrayBuffer(TimerRing.bytesFor(CAPACITY));
  const ring = TimerRing.create(buffer, 0, CAPACITY);
  const { received, faults, fulls } = await pushAndDrain(ring, 'shared', buffer);
  t.deepEqual(faults, [], 'no lost, duplicated, reordered or torn record');
  t.is(received, 2 * PER_PRODUCER);
  t.false(ring.hasRecords());
  t.log(`the producers found the ring full ${fulls} times`);
});

test('a full ring refuses a push and takes it once drained; push reports the cell it took', (t) => {
  for (const ring of [
    new OwnedTimerRing(new SharedArrayBuffer(OwnedTimerRing.bytesFor(4)), 0, 4),
    TimerRing.create(new SharedArrayBuffer(TimerRing.bytesFor(4)), 0, 4),
  ]) {
    if (ring instanceof OwnedTimerRing) ring.own();
    t.deepEqual(
      [1, 2, 3, 4].map((i) => ring.push(2 ** 32 + i, i)),
      [0, 1, 2, 3],
    );
    t.is(ring.push(2 ** 32 + 5, 5), -1, 'full');
    const seen: number[] = [];
    t.is(
      ring.drain((_, deadline) => seen.push(deadline)),
      4,
    );
    t.deepEqual(seen, [1, 2, 3, 4]);
    t.is(ring.push(2 ** 32 + 5, 5), 0, 'wrapped to the first cell');
    t.true(ring.hasRecords());
  }
});
