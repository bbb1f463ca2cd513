// Delivery: every subscriber on every thread gets each sender's messages exactly once, in that
// sender's order, as the type they were sent as (string, Uint8Array, IOBuf); fan-out over 2–4
// groups and the main thread; every kind of body, byte for byte.

import { IOBuf, IOBufPool } from '@weft/iobuf';
import test, { type ExecutionContext } from 'ava';
import { publishHere, runOn, startHub, take, takeText, verifyHere, waitUntil } from './helpers.ts';
import {
  publishSeq,
  receiveSamples,
  sendSamples,
  type VerifySpec,
  verify,
} from './tasks/checks.ts';
import { type CheckReport, describeBody, type Mode, samples } from './tasks/codec.ts';

function checkReports(t: ExecutionContext, reports: CheckReport[], expected: number[]) {
  for (const report of reports) {
    const who = report.group === -1 ? 'the main thread' : `group ${report.group}`;
    t.deepEqual(report.errors, [], `no errors on ${who}`);
    t.deepEqual(report.counts, { feed: expected }, `everything arrived on ${who}`);
    t.is(report.dropped, 0);
  }
}

/**
 * One fiber publisher (sender 0) and the main thread (sender 1) send `count` messages each on
 * "feed"; two fiber subscribers on each of the 2 groups and one on the main thread check them.
 */
async function exactlyOnce(t: ExecutionContext, fiberMode: Mode, mainMode: Mode, count: number) {
  t.timeout(110_000);
  const { scheduler, channels } = await startHub(t, { workers: 2 });
  const blocksBefore = channels.pool.stats().blocksInUse;
  const readySub = channels.subscribe('ready');
  const modes = [fiberMode, mainMode];
  const spec: VerifySpec = { channels: ['feed'], modes, ready: 'ready' };
  const mainSub = channels.subscribe('feed');
  const placed = [0, 1].map((group) => runOn(scheduler, group, verify, [[spec], [spec]]));
  const groups = (await takeText(readySub, 4)).map(Number).sort();
  t.deepEqual(groups, [0, 0, 1, 1], 'two subscribers on each group');
  t.is(channels.stats().channels.find((c) => c.name === 'feed')?.subscribers, 5);

  const mainReport = verifyHere(mainSub, ['feed'], modes);
  const [fiberPub, mainPub] = await Promise.all([
    scheduler.run(publishSeq, { channels: ['feed'], sender: 0, count, mode: fiberMode }),
    publishHere(channels, { channels: ['feed'], sender: 1, count, mode: mainMode }),
  ]);
  for (const pub of [fiberPub, mainPub]) {
    t.is(pub.minThreads, 3, 'every send reached both groups and the main thread');
    t.is(pub.maxThreads, 3);
  }
  const reports = [...(await Promise.all(placed)).flat(), await mainReport] as CheckReport[];
  t.is(reports.length, 5);
  checkReports(t, reports, [count, count]);
  mainSub.close();
  await waitUntil(() => channels.stats().messagesInFlight === 0, 'no message in flight');
  const threads = scheduler.groups + 1;
  t.true(
    channels.pool.stats().blocksInUse <= blocksBefore + 9 * threads,
    'the bodies went back to the pool (a write block and a stash of 8 per thread may stay)',
  );
}

test('strings from a fiber and bytes from the main thread: exactly once, in order, 5 subscribers', (t) =>
  exactlyOnce(t, 'string', 'bytes', 20_000));

test('bytes from a fiber and strings from the main thread: exactly once, in order, 5 subscribers', (t) =>
  exactlyOnce(t, 'bytes', 'string', 20_000));

test('IOBuf bodies (a third of them 20 KiB, over 3 blocks) from both: exactly once, intact', (t) =>
  exactlyOnce(t, 'iobuf', 'iobuf', 1500));

for (const workers of [2, 3, 4]) {
  test(`fan-out over ${workers} groups and the main thread: one subscriber each gets everything`, async (t) => {
    t.timeout(110_000);
    const { scheduler, channels } = await startHub(t, { workers });
    const readySub = channels.subscribe('ready');
    const modes: Mode[] = ['string', 'bytes'];
    const spec: VerifySpec = { channels: ['feed'], modes, ready: 'ready' };
    const mainSub = channels.subscribe('feed');
    const placed = Array.from({ length: workers }, (_, group) =>
      runOn(scheduler, group, verify, [[spec]]),
    );
    const groups = (await takeText(readySub, workers)).map(Number).sort();
    t.deepEqual(
      groups,
      Array.from({ length: workers }, (_, group) => group),
    );
    const count = 5000;
    const mainReport = verifyHere(mainSub, ['feed'], modes);
    const [fiberPub, mainPub] = await Promise.all([
      scheduler.run(publishSeq, { channels: ['feed'], sender: 0, count, mode: 'string' }),
      publishHere(channels, { channels: ['feed'], sender: 1, count, mode: 'bytes' }),
    ]);
    for (const pub of [fiberPub, mainPub]) {
      t.is(pub.minThreads, workers + 1, 'each send reached every thread');
      t.is(pub.maxThreads, workers + 1);
    }
    const reports = [...(await Promise.all(placed)).flat(), await mainReport] as CheckReport[];
    t.is(reports.length, workers + 1);
    checkReports(t, reports, [count, count]);
    const threads = channels.stats().threads;
    t.is(threads.length, workers + 1);
    for (const [index, thread] of threads.entries()) {
      // Each group delivered both senders' messages and end markers; the main thread, its
      // readiness messages too.
      t.is(thread.delivered, 2 * (count + 1) + (index === workers ? workers : 0));
      t.is(thread.dropped, 0);
    }
  });
}

test('every kind of body arrives as sent, byte for byte, from the main thread and from a fiber', async (t) => {
  t.timeout(60_000);
  const { scheduler, channels } = await startHub(t, { workers: 2 });
  const readySub = channels.subscribe('ready');
  const mainSub = channels.subscribe('samples');
  const otherPool = IOBufPool.create();
  const sent = samples(channels.pool);
  // An IOBuf of another pool is copied into the hub's pool.
  sent.push(IOBuf.from('from another pool', otherPool));
  const expected = sent.map(describeBody);
  const receivers = [0, 1].map((group) =>
    runOn(scheduler, group, receiveSamples, [['samples', 'ready', 2 * sent.length]]),
  );
  await take(readySub, 2);

  // From the main thread, with an origin.
  for (const body of sent) t.is(channels.send('samples', body, { origin: 77 }), 3);
  for (const body of sent) if (body instanceof IOBuf) body.release();
  // From a fiber (its samples are the same, except the IOBuf of another pool).
  t.is(await scheduler.run(sendSamples, 'samples'), sent.length - 1);
  channels.send('samples', 'from another pool again');

  const here = await take(mainSub, 2 * sent.length);
  const fromMain = expected.map((body) => ({ ...body, origin: 77 }));
  const fromFiber = [
    ...expected.slice(0, -1).map((body) => ({ ...body, origin: 0 })),
    { ...describeBody('from another pool again'), origin: 0 },
  ];
  const describeMessage = (m: { data: unknown; origin: number }) => ({
    ...describeBody(m.data),
    origin: m.origin,
  });
  t.deepEqual(here.map(describeMessage), [...fromMain, ...fromFiber]);
  for (const message of here) {
    t.is(message.channel, 'samples');
    t.true(Number.isFinite(message.timestamp) && message.timestamp > 0);
    if (message.data instanceof IOBuf) message.data.release();
    if (message.data instanceof Uint8Array) {
      t.false(message.data.buffer instanceof SharedArrayBuffer, 'received bytes are a copy');
      t.is(Object.getPrototypeOf(message.data), Uint8Array.prototype, 'a Buffer arrives as bytes');
    }
  }
  for (const got of (await Promise.all(receivers)).flat() as ReturnType<
    typeof describeMessage
  >[][]) {
    t.deepEqual(
      got.map(({ type, hex, origin }) => ({ type, hex, origin })),
      [...fromMain, ...fromFiber],
    );
  }
  mainSub.close();
  await waitUntil(() => channels.stats().messagesInFlight === 0, 'no message in flight');
});

test('a subscriber on several channels is told which channel each message came on', async (t) => {
  t.timeout(60_000);
  const { channels } = await startHub(t, { workers: 1 });
  const sub = channels.subscribe('a', 'b', 'c');
  const other = channels.subscribe('b');
  for (let i = 0; i < 30; i++) channels.send('abc'[i % 3], `${'abc'[i % 3]}${i}`);
  channels.send('d', 'nobody listens'); // returns 0: no thread has subscribers
  t.is(channels.send('nobody', 'x'), 0);
  const got = await take(sub, 30);
  t.deepEqual(
    got.map((m) => `${m.channel}:${m.data}`),
    Array.from({ length: 30 }, (_, i) => `${'abc'[i % 3]}:${'abc'[i % 3]}${i}`),
  );
  t.deepEqual(
    (await take(other, 10)).map((m) => m.data),
    Array.from({ length: 10 }, (_, i) => `b${3 * i + 1}`),
  );
  t.is(sub.recv(), null);
  t.is(sub.stats().received, 30);
  t.is(sub.stats().channels, 3);
});

test('a subscriber can be read with for await, which ends when it is closed', async (t) => {
  t.timeout(60_000);
  const { channels } = await startHub(t, { workers: 1 });
  const sub = channels.subscribe('loop');
  const reading = (async () => {
    const got: string[] = [];
    for await (const message of sub) {
      got.push(message.data as string);
      if (got.length === 100) setImmediate(() => sub.close());
    }
    return got;
  })();
  for (let i = 0; i < 100; i++) {
    channels.send('loop', String(i));
    if (i % 10 === 0) await new Promise(setImmediate);
  }
  t.deepEqual(
    await reading,
    Array.from({ length: 100 }, (_, i) => String(i)),
  );
});

test('workers: 0 (the group runs on this thread): fibers and this thread exchange everything', async (t) => {
  t.timeout(60_000);
  const { scheduler, channels } = await startHub(
    t,
    { workers: 0 },
    { queueCapacity: 16, ringCapacity: 32 },
  );
  const readySub = channels.subscribe('ready');
  const modes: Mode[] = ['string', 'bytes'];
  const spec: VerifySpec = { channels: ['feed'], modes, ready: 'ready' };
  const fibers = [scheduler.run(verify, spec), scheduler.run(verify, spec)];
  await take(readySub, 2);
  const mainSub = channels.subscribe('feed');
  const mainReport = verifyHere(mainSub, ['feed'], modes);
  const count = 5000;
  const [fiberPub, mainPub] = await Promise.all([
    scheduler.run(publishSeq, { channels: ['feed'], sender: 0, count, mode: 'string' }),
    publishHere(channels, { channels: ['feed'], sender: 1, count, mode: 'bytes' }),
  ]);
  t.like(fiberPub, { minThreads: 2, maxThreads: 2 });
  t.like(mainPub, { minThreads: 2, maxThreads: 2 });
  checkReports(t, [...(await Promise.all(fibers)), await mainReport], [count, count]);
  mainSub.close();
  t.is(channels.stats().messagesInFlight, 0);
});

// ---- fixed bugs, kept as regression tests ----

test('an IOBuf holding user data (one piece) can be sent, as one of several pieces can', async (t) => {
  t.timeout(60_000);
  const { channels } = await startHub(t, { workers: 1 });
  const sub = channels.subscribe('u');
  const several = IOBuf.from('prefix-', channels.pool).appendUserData(Buffer.from('user data'));
  t.is(channels.send('u', several), 1);
  several.release();
  const one = new IOBuf(channels.pool).appendUserData(Buffer.from('user data'));
  t.notThrows(() => channels.send('u', one));
  one.release();
  const got = await take(sub, 2);
  t.deepEqual(
    got.map((m) => (m.data as IOBuf).toString()),
    ['prefix-user data', 'user data'],
  );
  for (const message of got) (message.data as IOBuf).release();
});

// A message still in a thread's queue when a subscriber of that thread joins (queued for its other
// subscribers) was sent before the join: the new subscriber does not get it.
test('a subscriber gets only what was sent after it joined, even if its thread had not dispatched it yet', async (t) => {
  t.timeout(60_000);
  const { channels } = await startHub(t, { workers: 1 });
  const first = channels.subscribe('j');
  channels.send('j', 'before');
  const late = channels.subscribe('j'); // in the same turn: 'before' is still in this thread's queue
  channels.send('j', 'after');
  t.deepEqual(await takeText(first, 2), ['before', 'after']);
  t.deepEqual(await takeText(late, 1), ['after']);
  t.is(late.recv(), null);
});
