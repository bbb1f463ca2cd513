/**
 * Multi-thread stress tests: each would catch a lost item, a duplicate, a lost wake-up or a torn
 * read, and each has its own deadline, so a hang fails the test instead of stalling the run.
 */

import {
  Butex,
  MpscQueue,
  ParkingLot,
  PerThreadCounter,
  SharedLayout,
  SlotPool,
  slotOf,
  WorkStealingDeque,
} from '@weft/shm';
import test from 'ava';
import { runWorkers, type WorkerJob, workerUrl } from '../helpers/workers.ts';

const script = (file: string) => workerUrl(import.meta.url, file);

test('deque: 1 owner and 3 thieves take 1,000,000 items, each exactly once', async (t) => {
  t.timeout(120_000);
  const items = 1_000_000;
  const thieves = 3;
  const layout = new SharedLayout();
  const dequeAt = layout.reserve(WorkStealingDeque.bytesFor(256));
  const seenAt = layout.reserve(items);
  const controlAt = layout.reserve(8);
  const buffer = layout.allocate();
  WorkStealingDeque.create(buffer, dequeAt, 256);
  const data = { buffer, dequeAt, seenAt, controlAt, items, thieves };

  const jobs: WorkerJob[] = [{ script: script('deque-owner.ts'), data }];
  for (let i = 0; i < thieves; i++) jobs.push({ script: script('deque-thief.ts'), data });
  const results = await runWorkers<{ taken: number }>(jobs, 100_000);

  const taken = results.map((r) => r.taken);
  t.log(`owner took ${taken[0]}, thieves took ${taken.slice(1).join(', ')}`);
  t.is(
    taken.reduce((a, b) => a + b, 0),
    items,
  );
  const seen = new Uint8Array(buffer, seenAt, items);
  const wrong = seen.findIndex((count) => count !== 1);
  t.is(wrong, -1, wrong === -1 ? '' : `item ${wrong} was taken ${seen[wrong]} times`);
  t.true(
    taken.slice(1).some((n) => n > 0),
    'the thieves stole something',
  );
});

test('mpsc: 3 producers, 1 consumer; nothing lost, per-producer order kept', async (t) => {
  t.timeout(120_000);
  const producers = 3;
  const items = 300_000;
  const layout = new SharedLayout();
  const queueAt = layout.reserve(MpscQueue.bytesFor(64));
  const dataLotAt = layout.reserve(ParkingLot.bytesFor());
  const spaceLotAt = layout.reserve(ParkingLot.bytesFor());
  const finishedAt = layout.reserve(4);
  const buffer = layout.allocate();
  MpscQueue.create(buffer, queueAt, 64);
  ParkingLot.create(buffer, dataLotAt);
  ParkingLot.create(buffer, spaceLotAt);
  const data = { buffer, queueAt, dataLotAt, spaceLotAt, finishedAt, producers, items };

  const jobs: WorkerJob[] = [{ script: script('mpsc-consumer.ts'), data }];
  for (let producer = 0; producer < producers; producer++) {
    jobs.push({ script: script('mpsc-producer.ts'), data: { ...data, producer } });
  }
  const [consumer, ...rest] = await runWorkers<{
    expected: number[];
    errors: string[];
    parks: number;
    fullWaits: number;
  }>(jobs, 100_000);

  t.log(
    `consumer parked ${consumer.parks} times; producers waited on a full queue ${rest.map((r) => r.fullWaits).join(', ')} times`,
  );
  t.deepEqual(consumer.errors, []);
  t.deepEqual(consumer.expected, [items, items, items]);
});

test('slot pool: alloc/free/hand-off storms from 4 threads never hand one id out twice', async (t) => {
  t.timeout(120_000);
  const threads = 4;
  const capacity = 1024;
  const layout = new SharedLayout();
  const poolAt = layout.reserve(SlotPool.bytesFor(capacity));
  const ownerAt = layout.reserve(capacity * 4);
  const inboxAt = Array.from({ length: threads }, () => layout.reserve(MpscQueue.bytesFor(64)));
  const barrierAt = layout.reserve(4);
  const buffer = layout.allocate();
  const pool = SlotPool.create(buffer, poolAt, capacity, { chunk: 8 });
  for (const at of inboxAt) MpscQueue.create(buffer, at, 64);

  const jobs = Array.from({ length: threads }, (_, me) => ({
    script: script('slot-storm.ts'),
    data: {
      buffer,
      poolAt,
      ownerAt,
      inboxAt,
      barrierAt,
      me,
      threads,
      iterations: 200_000,
      maxHeld: 300,
      seed: 7919 * (me + 1),
    },
  }));
  const results = await runWorkers<{ errors: string[]; counts: Record<string, number> }>(
    jobs,
    100_000,
  );

  for (const [i, r] of results.entries()) t.log(`thread ${i}: ${JSON.stringify(r.counts)}`);
  t.deepEqual(
    results.flatMap((r) => r.errors),
    [],
  );
  t.true(
    results.some((r) => r.counts.exhausted > 0),
    'the storm ran the pool dry at times',
  );
  t.true(
    results.some((r) => r.counts.received > 0),
    'ids crossed threads',
  );
  // Nothing is in use, and every slot can be allocated again: none was lost.
  t.is(pool.countInUse(), 0);
  const slots = new Set<number>();
  for (let id = pool.alloc(); id !== -1; id = pool.alloc()) slots.add(slotOf(id));
  t.is(slots.size, capacity);
});

for (const useAsync of [false, true]) {
  const rounds = useAsync ? 20_000 : 100_000;
  test(`parking lot: a ping-pong of ${rounds.toLocaleString('en')} signals never loses a wake-up (${useAsync ? 'one side waitAsync' : 'both blocking'})`, async (t) => {
    t.timeout(120_000);
    const layout = new SharedLayout();
    const lotsAt = [layout.reserve(ParkingLot.bytesFor()), layout.reserve(ParkingLot.bytesFor())];
    const turnAt = layout.reserve(4);
    const buffer = layout.allocate();
    for (const at of lotsAt) ParkingLot.create(buffer, at);
    const data = { buffer, lotsAt, turnAt, rounds, useAsync: false };
    const results = await runWorkers<{ sleeps: number }>(
      [
        { script: script('ping-pong.ts'), data: { ...data, me: 0 } },
        { script: script('ping-pong.ts'), data: { ...data, me: 1, useAsync } },
      ],
      100_000,
    );
    t.log(`sleeps: ${results.map((r) => r.sleeps).join(', ')}`);
    t.is(new Int32Array(buffer, turnAt, 1)[0], 0, 'the turn came back after every round');
  });
}

test('butex: a futex mutex over 3 threads loses no increment and no wake-up', async (t) => {
  t.timeout(120_000);
  const threads = 3;
  const rounds = 100_000;
  const layout = new SharedLayout();
  const butexAt = layout.reserve(Butex.bytesFor());
  const counterAt = layout.reserve(4);
  const startAt = layout.reserve(4);
  const buffer = layout.allocate();
  Butex.create(buffer, butexAt);
  const data = { buffer, butexAt, counterAt, startAt, threads, rounds };
  const results = await runWorkers<{ waits: number }>(
    Array.from({ length: threads }, () => ({ script: script('butex-mutex.ts'), data })),
    100_000,
  );
  t.log(`waits: ${results.map((r) => r.waits).join(', ')}`);
  t.is(new Int32Array(buffer, counterAt, 1)[0], threads * rounds * 8);
});

test('per-thread counter: 64-bit cells are never read torn while 3 threads add', async (t) => {
  t.timeout(120_000);
  const writers = 3;
  const rounds = 100_000;
  const delta = 2 ** 32 + 3; // every add crosses a 32-bit boundary
  const layout = new SharedLayout();
  const counterAt = layout.reserve(PerThreadCounter.bytesFor(writers));
  const doneAt = layout.reserve(4);
  const buffer = layout.allocate();
  const counter = PerThreadCounter.create(buffer, counterAt, { threads: writers });
  const data = { buffer, counterAt, doneAt, writers, delta, rounds };
  const jobs: WorkerJob[] = [{ script: script('counter-reader.ts'), data }];
  for (let thread = 0; thread < writers; thread++) {
    jobs.push({ script: script('counter-writer.ts'), data: { ...data, thread } });
  }
  const [reader] = await runWorkers<{ errors: string[]; reads: number }>(jobs, 100_000);
  t.log(`reader made ${reader.reads} reads`);
  t.deepEqual(reader.errors, []);
  t.is(counter.read(), writers * rounds * delta);
});
