import { ErrorCode, MpscQueue, ParkingLot, SharedLayout, WeftError } from '@weft/shm';
import { now, TimerClient, TimerService } from '@weft/timers';
import test from 'ava';
import { runWorkers } from '../helpers/workers.ts';
import { pause, startFor } from './helpers.ts';

const worker = (file: string) => new URL(`./workers/${file}`, import.meta.url);

/** An endpoint (inbox + lot) in a buffer of its own, registered with the service. */
function customEndpoint(service: TimerService, inboxCapacity = 1 << 16) {
  const layout = new SharedLayout();
  const inboxAt = layout.reserve(MpscQueue.bytesFor(inboxCapacity));
  const lotAt = layout.reserve(ParkingLot.bytesFor());
  const buffer = layout.allocate();
  const inbox = MpscQueue.create(buffer, inboxAt, inboxCapacity);
  const lot = ParkingLot.create(buffer, lotAt);
  return { index: service.addEndpoint(buffer, inboxAt, lotAt), inbox, lot };
}

for (const buckets of ['per-thread', 'hashed'] as const) {
  const mode = `${buckets} buckets`;

  test(`${mode}: timers never fire early, and fire in deadline order`, async (t) => {
    t.timeout(30_000);
    const service = await startFor(t, { buckets });
    const client = service.client();
    const endpoint = customEndpoint(service);
    const count = 2000;
    const deadlines = new Float64Array(count);
    // All pending before the first is due (scheduling takes ~2 ms): then fire order must be
    // deadline order exactly. (A timer whose producer is preempted between reading the clock and
    // pushing can reach the thread after later ones have fired, as in brpc.)
    const start = client.now() + 50;
    for (let i = 0; i < count; i++) {
      deadlines[i] = start + Math.random() * 40;
      client.schedule({ at: deadlines[i] }, { endpoint: endpoint.index, token: i });
    }
    // Drain the endpoint the way its owner would, noting when each token is seen.
    const order: number[] = [];
    const early: number[] = [];
    while (order.length < count) {
      const seen = endpoint.lot.state();
      for (let token = endpoint.inbox.pop(); token !== undefined; token = endpoint.inbox.pop()) {
        if (client.now() < deadlines[token]) early.push(token);
        order.push(token);
      }
      if (order.length < count) await endpoint.lot.waitAsync(seen, 5000);
    }
    t.deepEqual(early, [], 'no timer fires before its deadline');
    const outOfOrder = order.filter(
      (token, i) => i > 0 && deadlines[token] < deadlines[order[i - 1]],
    );
    t.deepEqual(outOfOrder, []);
  });

  test(`${mode}: every timer not cancelled fires exactly once; cancelled ones never`, async (t) => {
    t.timeout(30_000);
    const client = (await startFor(t, { buckets })).client();
    const count = 10_000;
    const fires = new Uint8Array(count);
    const cancelled = new Set<number>();
    let expected = 0;
    const done = Promise.withResolvers<void>();
    const ids = Array.from({ length: count }, (_, i) =>
      client.setTimer(
        () => {
          fires[i]++;
          if (--expected === 0) done.resolve();
        },
        20 + (i % 25),
      ),
    );
    for (let i = 0; i < count; i += 2) if (client.clearTimer(ids[i])) cancelled.add(i);
    expected += count - cancelled.size;
    await done.promise;
    await pause(40); // anything that would fire late or twice
    for (let i = 0; i < count; i++) {
      if (fires[i] !== (cancelled.has(i) ? 0 : 1))
        return t.fail(`timer ${i} fired ${fires[i]} times`);
    }
    t.true(cancelled.size > 0, 'the cancels did remove timers');
  });

  test(`${mode}: unschedule racing the firing from another thread is 0 exactly when the target did not run`, async (t) => {
    t.timeout(60_000);
    const service = await startFor(t, { buckets });
    const client = service.client();
    const endpoint = customEndpoint(service);
    const count = 2000;
    const ids: number[] = [];
    const deadlines: number[] = [];
    const start = client.now() + 500; // the racing worker is up and running by then
    for (let i = 0; i < count; i++) {
      deadlines.push(start + i * 0.05);
      ids.push(client.schedule({ at: deadlines[i] }, { endpoint: endpoint.index, token: i }));
    }
    const [results] = await runWorkers<number[]>(
      [{ script: worker('racer.ts'), data: { handle: service.handle, ids, deadlines } }],
      50_000,
    );
    await pause(50);
    const delivered = new Uint8Array(count);
    for (let token = endpoint.inbox.pop(); token !== undefined; token = endpoint.inbox.pop())
      delivered[token]++;
    const tally = { 0: 0, 1: 0, [-1]: 0 } as Record<number, number>;
    for (let i = 0; i < count; i++) {
      tally[results[i]]++;
      const ran = delivered[i];
      if (results[i] === 0 ? ran !== 0 : ran !== 1)
        return t.fail(`timer ${i}: unschedule said ${results[i]}, delivered ${ran} times`);
    }
    t.log(`removed ${tally[0]}, running ${tally[1]}, already fired ${tally[-1]}`);
    t.true(tally[0] > 0 && tally[-1] > 0, 'both outcomes happened: the race was real');
    t.is(service.stats().pending, 0);
  });

  test(`${mode}: 1,000,000 timers scheduled then cancelled leave the table empty`, async (t) => {
    t.timeout(120_000);
    const service = await startFor(t, { buckets, capacity: 65_536 });
    const client = service.client();
    const endpoint = customEndpoint(service);
    const ids = new Float64Array(50_000);
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < ids.length; i++)
        ids[i] = client.schedule(1000 + (i % 30_000), { endpoint: endpoint.index, token: i });
      for (let i = 0; i < ids.length; i++)
        if (client.unschedule(ids[i]) !== 0) return t.fail('a cancel did not remove');
    }
    t.is(service.stats().pending, 0, 'every slot is free again');
    await pause(50);
    t.true(service.stats().heapEntries < 200_000, 'the timer thread swept the cancelled entries');
  });
}

test('an endpoint whose inbox is full loses nothing: its tokens wait on the timer thread', async (t) => {
  t.timeout(30_000);
  const service = await startFor(t);
  const client = service.client();
  const endpoint = customEndpoint(service, 16);
  const count = 500;
  for (let token = 0; token < count; token++) {
    client.schedule(token % 5, { endpoint: endpoint.index, token });
  }
  // Let every timer fire while nobody drains: 16 tokens fit, the rest overflow.
  await pause(50);
  t.is(endpoint.inbox.size(), 16);
  const seen = new Uint8Array(count);
  let received = 0;
  while (received < count) {
    const state = endpoint.lot.state();
    for (let token = endpoint.inbox.pop(); token !== undefined; token = endpoint.inbox.pop()) {
      seen[token]++;
      received++;
    }
    if (received < count) await endpoint.lot.waitAsync(state, 5000);
  }
  t.true(
    seen.every((times) => times === 1),
    'every token once',
  );
  t.is(service.stats().fired, count);
});

test('a parked thread is woken through its endpoint, with or without a token', async (t) => {
  t.timeout(30_000);
  const service = await startFor(t);
  const client = service.client();
  const endpoint = customEndpoint(service);
  // 'not-equal' too means the signal came (before the wait began); only 'timed-out' is a miss.
  let seen = endpoint.lot.state();
  client.schedule(5, { endpoint: endpoint.index });
  t.not(await endpoint.lot.waitAsync(seen, 5000), 'timed-out');
  t.is(endpoint.inbox.pop(), undefined, 'a plain wake-up pushes no token');
  seen = endpoint.lot.state();
  client.schedule(5, { endpoint: endpoint.index, token: 42 });
  t.not(await endpoint.lot.waitAsync(seen, 5000), 'timed-out');
  t.is(endpoint.inbox.pop(), 42);
});

test('threads schedule their own setTimer callbacks, none early', async (t) => {
  t.timeout(60_000);
  const service = await startFor(t);
  const results = await runWorkers<{ fired: number; early: number[] }>(
    [0, 1, 2].map(() => ({
      script: worker('scheduler-thread.ts'),
      data: { handle: service.handle, count: 2000 },
    })),
    50_000,
  );
  for (const result of results) {
    t.is(result.fired, 2000);
    t.deepEqual(result.early, []);
  }
});

test('the clock is monotonic across threads: a later reading on another thread is never earlier', async (t) => {
  t.timeout(60_000);
  const buffer = new SharedArrayBuffer(64);
  const flag = new Int32Array(buffer, 0, 2);
  const stamps = new Float64Array(buffer, 8, 1);
  const rounds = 200;
  const done = runWorkers<number[]>(
    [{ script: worker('clock-reader.ts'), data: { buffer, rounds } }],
    50_000,
  );
  for (let round = 1; round <= rounds; round++) {
    stamps[0] = now();
    Atomics.store(flag, 0, round);
    Atomics.notify(flag, 0);
    while (Atomics.load(flag, 1) !== round) await new Promise((resolve) => setImmediate(resolve));
  }
  const [gaps] = await done;
  t.log(
    `gap (worker reading − main reading): min ${Math.min(...gaps).toFixed(4)} ms, max ${Math.max(...gaps).toFixed(4)} ms`,
  );
  t.true(Math.min(...gaps) >= -0.01, 'never earlier, within calibration error');
});

test('a callback that throws is reported on its thread; other timers still fire', async (t) => {
  t.timeout(30_000);
  const service = await startFor(t);
  const errors: unknown[] = [];
  const client = TimerClient.attach(service.handle, { onError: (error) => errors.push(error) });
  const ran: string[] = [];
  await new Promise<void>((resolve) => {
    client.setTimer(() => {
      throw new Error('boom');
    }, 1);
    client.setTimer(() => ran.push('after'), 2);
    client.setTimer(resolve, 10);
  });
  t.is((errors[0] as Error).message, 'boom');
  t.deepEqual(ran, ['after']);
});

test('clearTimer: a callback cleared after its timer fired never runs; stale handles clear nothing', async (t) => {
  t.timeout(30_000);
  const client = (await startFor(t, { capacity: 8 })).client();
  const ran: string[] = [];
  const cleared = client.setTimer(() => ran.push('cleared'), 1);
  // Block this thread past the deadline: the timer thread fires it into our inbox meanwhile.
  const until = client.now() + 30;
  while (client.now() < until);
  t.true(client.clearTimer(cleared), 'pending here, though fired there');
  t.false(client.clearTimer(cleared), 'already cleared');
  t.is(client.pendingCallbacks, 0);
  const first = await new Promise<number>((resolve) => {
    const handle = client.setTimer(() => resolve(handle), 1);
  });
  // The next setTimer reuses the token of the one that ran: the old handle must not clear it.
  const reused = new Promise<void>((resolve) => client.setTimer(resolve, 5));
  t.false(client.clearTimer(first), 'a handle whose callback ran');
  await reused;
  t.deepEqual(ran, [], 'the cleared callback never ran');
  for (const garbage of [-1, 1.5, Number.NaN, 2 ** 52, 'x', null, undefined]) {
    t.false(client.clearTimer(garbage as never));
  }
  // A full table refuses the setTimer and keeps no trace of it.
  const handles = Array.from({ length: 8 }, () => client.setTimer(() => ran.push('late'), 60_000));
  t.throws(() => client.setTimer(() => {}, 60_000), { code: ErrorCode.CAPACITY });
  t.is(client.pendingCallbacks, 8);
  for (const handle of handles) t.true(client.clearTimer(handle));
  t.is(client.pendingCallbacks, 0);
});

test('stop: pending setTimer callbacks never run, the thread is free to exit, later timers are refused', async (t) => {
  t.timeout(30_000);
  const service = await TimerService.start();
  const client = service.client();
  let ran = false;
  client.setTimer(() => {
    ran = true;
  }, 20);
  t.deepEqual(await service.stop(), { pending: 1 });
  await pause(40);
  t.false(ran);
  // (Were the pump still parked, this test file would never exit.)
  t.throws(() => client.setTimer(() => {}, 1), { code: ErrorCode.CLOSED, message: /stopped/ });
  t.throws(() => client.schedule(1, { endpoint: 0 }), { code: ErrorCode.CLOSED });
  t.throws(() => customEndpoint(service), { code: ErrorCode.CLOSED });
});

test('addEndpoint checks its regions before the timer thread sees them', async (t) => {
  const service = await startFor(t);
  const layout = new SharedLayout();
  const inboxAt = layout.reserve(MpscQueue.bytesFor(16));
  const lotAt = layout.reserve(ParkingLot.bytesFor());
  const buffer = layout.allocate();
  MpscQueue.create(buffer, inboxAt, 16);
  // No lot created there yet, the offsets swapped, a misaligned offset, not a buffer at all.
  t.throws(() => service.addEndpoint(buffer, inboxAt, lotAt), { code: ErrorCode.BAD_REGION });
  ParkingLot.create(buffer, lotAt);
  t.throws(() => service.addEndpoint(buffer, lotAt, inboxAt), { code: ErrorCode.BAD_REGION });
  t.throws(() => service.addEndpoint(buffer, inboxAt + 4, lotAt), { code: ErrorCode.MISALIGNED });
  t.throws(() => service.addEndpoint(new ArrayBuffer(256) as never, 0, 64), {
    instanceOf: TypeError,
  });
  // The service still works, and the good registration gets the next index.
  const index = service.addEndpoint(buffer, inboxAt, lotAt);
  const lot = ParkingLot.attach(buffer, lotAt);
  const seen = lot.state();
  service.client().schedule(1, { endpoint: index, token: 7 });
  t.not(await lot.waitAsync(seen, 5000), 'timed-out');
  t.is(MpscQueue.attach(buffer, inboxAt).pop(), 7);
});

test('bad input: delays, targets and ids', async (t) => {
  const service = await startFor(t, { capacity: 4 });
  const client = service.client();
  const endpoint = customEndpoint(service);
  for (const bad of [Number.NaN, -1, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
    t.throws(() => client.schedule(bad, { endpoint: 0 }), {
      instanceOf: RangeError,
      code: ErrorCode.OUT_OF_RANGE,
      message: /finite number of milliseconds/,
    });
    t.throws(() => client.setTimer(() => {}, bad), {
      instanceOf: RangeError,
      code: ErrorCode.OUT_OF_RANGE,
    });
  }
  t.throws(() => client.schedule({ at: Number.NaN }, { endpoint: 0 }), {
    instanceOf: TypeError,
    code: ErrorCode.INVALID_ARGUMENT,
  });
  t.throws(() => client.schedule('5' as never, { endpoint: 0 }), {
    code: ErrorCode.INVALID_ARGUMENT,
  });
  t.throws(() => client.schedule(5, { endpoint: 99 }), {
    code: ErrorCode.OUT_OF_RANGE,
    message: /endpoint from 0 to/,
  });
  t.throws(() => client.schedule(5, { endpoint: endpoint.index, token: -1 }), {
    code: ErrorCode.OUT_OF_RANGE,
    message: /token/,
  });
  t.throws(() => client.schedule(5, null as never), { code: ErrorCode.OUT_OF_RANGE });
  t.throws(() => client.setTimer('nope' as never, 5), {
    instanceOf: TypeError,
    code: ErrorCode.INVALID_ARGUMENT,
  });
  for (const garbage of [0, -1, 1.5, 2 ** 53, 'x', null, undefined, 2 ** 32 + 9999]) {
    t.is(client.unschedule(garbage as never), -1);
  }
  const ids = [0, 1, 2, 3].map(() =>
    client.schedule(60_000, { endpoint: endpoint.index, token: 1 }),
  );
  const error = t.throws(() => client.schedule(60_000, { endpoint: endpoint.index }), {
    instanceOf: WeftError,
    code: ErrorCode.CAPACITY,
  });
  t.regex(error.message, /all 4 timers are pending.*capacity/);
  t.is(client.unschedule(ids[0]), 0);
  t.is(client.unschedule(ids[0]), -1, 'stale after cancel');
  t.notThrows(() => client.schedule(60_000, { endpoint: endpoint.index }), 'the cancel made room');
  await t.throwsAsync(TimerService.start({ capacity: 0 }), { code: ErrorCode.OUT_OF_RANGE });
  await t.throwsAsync(TimerService.start({ buckets: 'sideways' as never }), {
    code: ErrorCode.INVALID_ARGUMENT,
  });
});

test('stop is idempotent and reports the timers still pending', async (t) => {
  const service = await TimerService.start();
  const client = service.client();
  const endpoint = customEndpoint(service);
  for (let i = 0; i < 3; i++) client.schedule(60_000, { endpoint: endpoint.index });
  t.deepEqual(await service.stop(), { pending: 3 });
  t.deepEqual(await service.stop(), { pending: 3 });
});
