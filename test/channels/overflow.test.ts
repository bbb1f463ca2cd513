// Overflow policies with small queues: drop-newest keeps the first messages, drop-oldest the
// latest (both counted); 'error' fails the whole send (nothing partly delivered); 'block' parks a
// fiber sender, and sendAsync waits, until the slow subscriber catches up — exactly once, in order.

import type { Channels, Subscriber } from '@weft/channels';
import type { Scheduler } from '@weft/scheduler';
import { ErrorCode } from '@weft/shm';
import test, { type ExecutionContext } from 'ava';
import { openGate, pause, runOn, startHub, take, waitUntil } from './helpers.ts';
import { countingPublisher, gated, sendUntilFull } from './tasks/checks.ts';

const numbers = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => String(from + i));

interface GatedResult {
  group: number;
  got: string[];
  held: { queued: number; dropped: number; notifications: number };
  stats: { queued: number; dropped: number; received: number };
}

async function dropTest(t: ExecutionContext, policy: 'drop-newest' | 'drop-oldest') {
  t.timeout(60_000);
  const { scheduler, channels, words } = await startHub(
    t,
    { workers: 2 },
    { queueCapacity: 4, ringCapacity: 64 },
  );
  channels.configure('d', { overflow: policy });
  t.is(channels.overflowOf('d'), policy);
  const readySub = channels.subscribe('ready');
  openGate(words, 0); // the fiber drains as soon as its stats show the drops
  const fiber = runOn(scheduler, -1, gated, [
    ['d', 'ready', 0, false, 0, { queued: 4, dropped: 6 }],
  ]);
  const [group] = (await take(readySub, 1)).map((m) => Number(m.data));
  const sub = channels.subscribe('d');

  // 10 messages to queues of 4, in one go (the rings hold them all).
  for (let i = 0; i < 10; i++) t.is(channels.send('d', String(i)), 2);
  await waitUntil(() => sub.stats().queued === 4 && sub.stats().dropped === 6, '4 kept, 6 dropped');
  const kept = policy === 'drop-newest' ? numbers(0, 4) : numbers(6, 10);
  const here: string[] = [];
  for (let m = sub.recv(); m !== null; m = sub.recv()) here.push(m.data as string);
  t.deepEqual(here, kept, 'the main-thread subscriber');
  const [result] = (await fiber) as GatedResult[];
  t.deepEqual(result.got, kept, 'the fiber subscriber');
  t.like(result.held, { queued: 4, dropped: 6 });

  const stats = channels.stats();
  t.like(
    stats.channels.find((c) => c.name === 'd'),
    { dropped: 12, overflow: policy },
  );
  t.is(stats.threads[group].dropped, 6);
  t.is(stats.threads[scheduler.groups].dropped, 6);
  // Delivered counts what went into a queue: with drop-oldest, also what was pushed out later.
  const delivered = policy === 'drop-newest' ? 4 : 10;
  t.is(stats.threads[group].delivered, delivered);
  t.is(stats.threads[scheduler.groups].delivered, delivered + 1, 'and the "ready" message');
  await waitUntil(() => channels.stats().messagesInFlight === 0, 'no message in flight');
}

test('drop-newest keeps the first messages and counts the drops', (t) =>
  dropTest(t, 'drop-newest'));

test('drop-oldest keeps the latest messages and counts the drops', (t) =>
  dropTest(t, 'drop-oldest'));

/** The texts `subscriber` receives up to the message 'end'. */
async function textsUntilEnd(subscriber: Subscriber): Promise<string[]> {
  const got: string[] = [];
  for (;;) {
    const [message] = await take(subscriber, 1);
    if (message.data === 'end') return got;
    got.push(message.data as string);
  }
}

// A thread that has not polled while a sender filled its whole queue (ringCapacity) makes the
// sender drop there, before any subscriber queue: the newest message, whatever the drop policy
// (only the thread can take from its queue), counted per channel and per thread (README, Overflow).
async function outrunTest(t: ExecutionContext, policy: 'drop-oldest' | 'drop-newest') {
  t.timeout(60_000);
  const { channels } = await startHub(t, { workers: 1 }, { queueCapacity: 4, ringCapacity: 16 });
  channels.configure('d', { overflow: policy });
  const sub = channels.subscribe('d');
  // Sent in one turn of the event loop: this thread's pump cannot run in between.
  for (let i = 0; i < 100; i++) channels.send('d', String(i));
  await waitUntil(() => sub.stats().queued === 4, '4 queued');
  const got: string[] = [];
  for (let m = sub.recv(); m !== null; m = sub.recv()) got.push(m.data as string);
  // The first 16 reached the thread's queue; of those its subscriber's queue kept 4, by policy.
  t.deepEqual(got, policy === 'drop-oldest' ? numbers(12, 16) : numbers(0, 4));
  const stats = channels.stats();
  t.is(stats.channels.find((c) => c.name === 'd')?.dropped, 96);
  t.is(stats.threads[1].dropped, 96, "the thread's dropped counts both kinds");
  t.is(sub.stats().dropped, 12, "the subscriber's dropped counts its own queue's");
}

test('drop-oldest drops the newest when the sender outruns the receiving thread itself', (t) =>
  outrunTest(t, 'drop-oldest'));

test('drop-newest at a full thread queue: counted per channel and per thread', (t) =>
  outrunTest(t, 'drop-newest'));

// A thread settles what it popped when it has dispatched the whole batch; a dispatch stalled
// mid-batch holds its credits. So a thread whose subscriber stopped reading takes between
// ringCapacity and ringCapacity + queueCapacity messages before its queue is full — exactly
// ringCapacity more once that subscriber's queue is full (then each message stalls at once).
// Senders waiting for room are woken when the thread's queue is down to half.

/**
 * A subscriber of `channel` on group `group` (-1: any) that reads nothing until shared word `gate`
 * opens, its queue filled first with "0".."queueCapacity-1" from here: from then on its thread
 * takes exactly ringCapacity more. Resolves when its queue is full, with what the subscriber will
 * have got once the gate opens.
 */
async function stalled(
  scheduler: Scheduler,
  channels: Channels,
  words: Int32Array,
  spec: { channel: string; group: number; gate: number; queueCapacity: number; pace: number },
): Promise<{ done: Promise<GatedResult[]> }> {
  const { channel, group, gate, queueCapacity, pace } = spec;
  const readySub = channels.subscribe('ready');
  const done = runOn(scheduler, group, gated, [
    [channel, 'ready', gate, true, pace, { queued: queueCapacity, dropped: 0 }],
  ]) as Promise<GatedResult[]>;
  await take(readySub, 1);
  readySub.close();
  for (let i = 0; i < queueCapacity; i++) {
    if (!channels.trySend(channel, String(i))) throw new Error('no room to fill the queue');
  }
  await waitUntil(() => Atomics.load(words, gate + 1) === 1, 'a full queue');
  return { done };
}

test("'error': a send to a full queue throws E_FULL and reaches nobody; the others get exactly what succeeded", async (t) => {
  t.timeout(60_000);
  const queueCapacity = 4;
  const ringCapacity = 8;
  const { scheduler, channels, words } = await startHub(
    t,
    { workers: 2 },
    { queueCapacity, ringCapacity },
  );
  channels.configure('e', { overflow: 'error' });
  const fastGate = 2;
  openGate(words, fastGate);
  const readySub = channels.subscribe('ready');
  const fast = runOn(scheduler, 1, gated, [['e', 'ready', fastGate, true, 0]]);
  await take(readySub, 1);
  const mainSub = channels.subscribe('e');
  const mainGot = textsUntilEnd(mainSub);
  const slow = (
    await stalled(scheduler, channels, words, {
      channel: 'e',
      group: 0,
      gate: 0,
      queueCapacity,
      pace: 0,
    })
  ).done;

  let sent = queueCapacity;
  let failure: unknown;
  while (failure === undefined) {
    try {
      t.is(channels.send('e', String(sent)), 3);
      sent++;
    } catch (error) {
      failure = error;
    }
    await new Promise(setImmediate); // the fast subscribers keep up
  }
  t.like(failure, { code: ErrorCode.FULL });
  t.regex((failure as Error).message, /channel "e".*'error'/s);
  t.is(sent, queueCapacity + ringCapacity);
  t.false(channels.trySend('e', 'not sent either'));
  await t.throwsAsync(channels.sendAsync('e', 'nor this'), { code: ErrorCode.FULL });

  openGate(words, 0);
  await waitUntil(() => channels.trySend('e', 'end'), 'room for "end"');
  const expected = numbers(0, sent);
  for (const [result] of (await Promise.all([slow, fast])) as GatedResult[][]) {
    t.deepEqual(result.got, expected, `group ${result.group}`);
    t.is(result.stats.dropped, 0);
  }
  t.deepEqual(await mainGot, expected, 'the main thread');
  t.is(channels.stats().channels.find((c) => c.name === 'e')?.dropped, 0);
});

test("'error' in a fiber: yield* send throws E_FULL; the main thread's default policy is 'error' too", async (t) => {
  t.timeout(60_000);
  const { scheduler, channels, words } = await startHub(
    t,
    { workers: 2 },
    { queueCapacity: 4, ringCapacity: 8 },
  );
  channels.configure('e', { overflow: 'error' });
  const slow = (
    await stalled(scheduler, channels, words, {
      channel: 'e',
      group: 0,
      gate: 0,
      queueCapacity: 4,
      pace: 0,
    })
  ).done;
  const [result] = (await runOn(scheduler, 1, sendUntilFull, [['e', 4]])) as {
    sent: number;
    code: string;
  }[];
  t.is(result.code, ErrorCode.FULL);
  t.is(result.sent, 8, "exactly the stalled thread's queue");

  // A channel nobody configured: 'error' for a synchronous send here ('block' for fibers).
  t.is(channels.overflowOf('plain'), 'error');
  const slowPlain = (
    await stalled(scheduler, channels, words, {
      channel: 'plain',
      group: 1,
      gate: 2,
      queueCapacity: 4,
      pace: 0,
    })
  ).done;
  let plainSent = 4;
  t.throws(
    () => {
      for (; plainSent < 1000; plainSent++) channels.send('plain', String(plainSent));
    },
    { code: ErrorCode.FULL, message: /'error'/ },
  );
  t.is(plainSent, 12);

  openGate(words, 0);
  openGate(words, 2);
  await waitUntil(() => channels.trySend('e', 'end'), 'room for "end"');
  t.deepEqual((await slow)[0].got, numbers(0, 12));
  await channels.sendAsync('plain', 'end'); // no policy: sendAsync waits
  t.deepEqual((await slowPlain)[0].got, numbers(0, 12));
});

test("'block': a fiber sender parks while a slow subscriber's queues are full, then everything arrives once", async (t) => {
  t.timeout(90_000);
  const queueCapacity = 8;
  const ringCapacity = 16;
  const { scheduler, channels, words } = await startHub(
    t,
    { workers: 2 },
    { queueCapacity, ringCapacity },
  );
  const mainSub = channels.subscribe('b');
  const mainGot = textsUntilEnd(mainSub);
  const slow = (
    await stalled(scheduler, channels, words, {
      channel: 'b',
      group: 0,
      gate: 0,
      queueCapacity,
      pace: 7,
    })
  ).done;

  const count = 2000;
  const progress = 4;
  const publisher = runOn(scheduler, 1, countingPublisher, [['b', count, progress]]);
  // The stalled thread takes exactly its queue's worth; then the publisher must wait.
  await waitUntil(() => Atomics.load(words, progress) === ringCapacity, `${ringCapacity} sent`);
  await pause(50); // time for a publisher that did not wait to go on (it must not)
  t.is(Atomics.load(words, progress), ringCapacity, 'the publisher is parked');
  t.is(channels.overflowOf('b'), 'error', "a synchronous send here cannot wait: 'error'");
  t.throws(() => channels.send('b', 'never'), { code: ErrorCode.FULL });
  t.false(channels.trySend('b', 'never'));

  openGate(words, 0);
  const expected = [...numbers(0, queueCapacity), ...numbers(0, count)];
  const [result] = await slow;
  t.deepEqual(result.got, expected, 'the slow subscriber got everything, once, in order');
  t.is(result.stats.dropped, 0);
  t.deepEqual(await mainGot, expected, 'so did the main thread');
  t.deepEqual(await publisher, [1]);
  t.is(Atomics.load(words, progress), count);
});

test("'block': a fiber sender also waits for a slow subscriber on the main thread", async (t) => {
  t.timeout(60_000);
  const { scheduler, channels, words } = await startHub(
    t,
    { workers: 1 },
    { queueCapacity: 8, ringCapacity: 16 },
  );
  channels.configure('b', { overflow: 'block' });
  const sub = channels.subscribe('b');
  const progress = 0;
  const publisher = scheduler.run(countingPublisher, 'b', 500, progress);
  await waitUntil(() => Atomics.load(words, progress) >= 16, '16 sent');
  await pause(50);
  const sent = Atomics.load(words, progress);
  t.true(sent >= 16 && sent <= 24, `${sent} sent`);
  const got: string[] = [];
  for (;;) {
    const [message] = await take(sub, 1);
    if (message.data === 'end') break;
    got.push(message.data as string);
    if (got.length % 50 === 0) await pause(1);
  }
  t.deepEqual(got, numbers(0, 500));
  t.is(await publisher, 0);
});

test("sendAsync waits for room ('block'), while send throws E_FULL and trySend says false", async (t) => {
  t.timeout(60_000);
  const { scheduler, channels, words } = await startHub(
    t,
    { workers: 2 },
    { queueCapacity: 4, ringCapacity: 8 },
  );
  channels.configure('b', { overflow: 'block' });
  t.is(channels.overflowOf('b'), 'block');
  const slow = (
    await stalled(scheduler, channels, words, {
      channel: 'b',
      group: -1,
      gate: 0,
      queueCapacity: 4,
      pace: 3,
    })
  ).done;

  let sent = 4;
  while (channels.trySend('b', String(sent))) sent++;
  t.is(sent, 12);
  t.throws(() => channels.send('b', 'never'), { code: ErrorCode.FULL, message: /'block'/ });
  let settled = false;
  const last = channels.sendAsync('b', 'last').then((threads) => {
    settled = true;
    return threads;
  });
  await pause(50);
  t.false(settled, 'sendAsync waits while the queue is full');
  openGate(words, 0);
  t.is(await last, 1);
  await channels.sendAsync('b', 'end');
  const [result] = await slow;
  t.deepEqual(result.got, [...numbers(0, sent), 'last']);
});

test('sendAsync from the main thread to its own slow subscriber waits until it reads', async (t) => {
  t.timeout(60_000);
  const { channels } = await startHub(t, { workers: 1 }, { queueCapacity: 4, ringCapacity: 8 });
  const sub = channels.subscribe('self');
  let sent = 0;
  const sending = (async () => {
    for (; sent < 200; sent++) await channels.sendAsync('self', String(sent));
  })();
  await waitUntil(() => sent >= 8, '8 sent');
  await pause(30);
  t.true(sent >= 8 && sent <= 12, `${sent} sent: the next one waits`);
  t.deepEqual(
    (await take(sub, 200)).map((m) => m.data),
    numbers(0, 200),
  );
  await sending;
});
