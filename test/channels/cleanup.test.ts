// Clean-up: leaving drops queued messages (their blocks go back to the pool), a fiber that ends
// however it ends leaves its channels, a dead worker's subscriptions and messages are cleared and
// its replacement works, and closing Channels closes this thread's subscribers.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Channels } from '@weft/channels';
import { IOBuf } from '@weft/iobuf';
import { ErrorCode } from '@weft/shm';
import test, { type ExecutionContext } from 'ava';
import {
  openGate,
  pause,
  runOn,
  startHub,
  take,
  takeText,
  verifyHere,
  waitUntil,
} from './helpers.ts';
import { countingPublisher, holder, publishSeq, type VerifySpec, verify } from './tasks/checks.ts';
import { type CheckReport, END, encode } from './tasks/codec.ts';

/** Sends `count` 20 KiB IOBuf bodies (3 blocks each) on `channel`. */
function sendBig(channels: Channels, channel: string, count: number) {
  for (let i = 0; i < count; i++) {
    const body = IOBuf.from(new Uint8Array(20 * 1024).fill(i), channels.pool);
    channels.send(channel, body);
    body.release();
  }
}

const subscribersOf = (channels: Channels, name: string) =>
  channels.stats().channels.find((c) => c.name === name)?.subscribers ?? 0;

/** Blocks may stay cached on each thread: its write block and a stash of up to 8. */
function blocksBack(t: ExecutionContext, channels: Channels, before: number, threads: number) {
  const now = channels.pool.stats().blocksInUse;
  t.true(now <= before + 9 * threads, `${now} blocks in use, ${before} before`);
}

test('leave drops what is queued for the channel: messages and blocks go back', async (t) => {
  t.timeout(60_000);
  const { channels } = await startHub(t, { workers: 1 });
  const blocksBefore = channels.pool.stats().blocksInUse;
  const sub = channels.subscribe('big', 'small');
  const keep = channels.subscribe('big');
  sendBig(channels, 'big', 10);
  for (let i = 0; i < 5; i++) channels.send('small', `s${i}`);
  await waitUntil(() => sub.stats().queued === 15 && keep.stats().queued === 10, 'all queued');
  t.is(channels.stats().messagesInFlight, 15, 'one message each, however many receivers');
  t.true(channels.pool.stats().blocksInUse >= blocksBefore + 25, '200 KiB of bodies');

  sub.leave('big');
  t.like(sub.stats(), { queued: 5, channels: 1 });
  t.is(channels.stats().messagesInFlight, 15, 'the other subscriber still holds the bodies');
  t.is(subscribersOf(channels, 'big'), 1);
  keep.leave('big');
  t.is(channels.stats().messagesInFlight, 5);
  t.is(subscribersOf(channels, 'big'), 0);
  blocksBack(t, channels, blocksBefore, 2);
  t.deepEqual(
    (await take(sub, 2)).map((m) => m.data),
    ['s0', 's1'],
  );
  sub.close();
  t.is(channels.stats().messagesInFlight, 0);
  t.is(subscribersOf(channels, 'small'), 0);

  // Left before this thread even dispatched them: dropped when it does.
  const late = channels.subscribe('late');
  sendBig(channels, 'late', 5);
  late.leave('late');
  await waitUntil(() => channels.stats().messagesInFlight === 0, 'the late ones dropped');
  blocksBack(t, channels, blocksBefore, 2);
});

test('leave in a fiber, and a fiber that ends (returns, throws, is cancelled), free what it held', async (t) => {
  t.timeout(60_000);
  const { scheduler, channels, words } = await startHub(t, { workers: 2 });
  const blocksBefore = channels.pool.stats().blocksInUse;
  const reports = channels.subscribe('ready');
  const report = async () => JSON.parse((await takeText(reports, 1))[0]);
  let gate = 0;
  for (const how of ['leave', 'return', 'throw', 'park'] as const) {
    const id = scheduler.spawn(holder, ['x', 'y'], 'ready', 5, how, gate);
    t.like(await report(), { step: 'ready' });
    t.is(subscribersOf(channels, 'x'), 1);
    t.is(subscribersOf(channels, 'y'), 1);
    sendBig(channels, 'x', 5);
    t.like(await report(), { step: 'holding', queued: 5, channels: 2 });
    t.is(channels.stats().messagesInFlight, 5);
    openGate(words, gate);
    if (how === 'leave') {
      t.like(await report(), { step: 'left', queued: 0, channels: 1 });
      t.is(channels.stats().messagesInFlight, 0, 'leave dropped them');
      t.is(subscribersOf(channels, 'x'), 0);
      t.is(subscribersOf(channels, 'y'), 1);
      openGate(words, gate + 1);
      t.like(await scheduler.join(id), { queued: 0, channels: 1 });
    }
    if (how === 'return') t.like(await scheduler.join(id), { queued: 5 });
    if (how === 'throw') await t.throwsAsync(scheduler.join(id), { message: 'holder gives up' });
    if (how === 'park') {
      await waitUntil(() => subscribersOf(channels, 'silence') === 1, 'parked');
      scheduler.cancel(id);
      await t.throwsAsync(scheduler.join(id), { code: ErrorCode.CANCELLED });
      t.is(subscribersOf(channels, 'silence'), 0);
    }
    t.is(subscribersOf(channels, 'x'), 0, `${how}: left x`);
    t.is(subscribersOf(channels, 'y'), 0, `${how}: left y`);
    t.is(channels.stats().messagesInFlight, 0, `${how}: nothing in flight`);
    gate += 2;
  }
  blocksBack(t, channels, blocksBefore, 3);
});

test('a worker that dies holding messages: its subscriptions and messages are cleared, its replacement works', async (t) => {
  t.timeout(90_000);
  const { scheduler, channels, words } = await startHub(t, { workers: 2 });
  const blocksBefore = channels.pool.stats().blocksInUse;
  const reports = channels.subscribe('hready');
  const readySub = channels.subscribe('ready');
  const exitGate = 0;
  const victim = scheduler.spawn(holder, ['w'], 'hready', 30, 'exit', exitGate);
  const { group } = JSON.parse((await takeText(reports, 1))[0]) as { group: number };
  const spec: VerifySpec = { channels: ['w'], modes: ['iobuf'], ready: 'ready' };
  const survivor = runOn(scheduler, 1 - group, verify, [[spec]]);
  await take(readySub, 1);
  const mainSub = channels.subscribe('w');
  const mainReport = verifyHere(mainSub, ['w'], ['iobuf']);
  t.is(subscribersOf(channels, 'w'), 3);

  const send = (seq: number) => {
    const body = encode('iobuf', 0, seq, channels.pool) as IOBuf;
    t.is(channels.send('w', body), 3);
    body.release();
  };
  for (let seq = 0; seq < 30; seq++) send(seq);
  t.like(JSON.parse((await takeText(reports, 1))[0]), { step: 'holding', queued: 30 });
  // Its thread is blocked now: these stay in its thread's queue, not yet popped.
  for (let seq = 30; seq < 50; seq++) send(seq);
  t.is(channels.stats().threads[group].queued, 20);

  openGate(words, exitGate);
  await t.throwsAsync(scheduler.join(victim), { code: ErrorCode.WORKER_DIED });
  await waitUntil(() => subscribersOf(channels, 'w') === 2, 'the dead subscriber cleared');
  t.is(channels.stats().threads[group].queued, 0, "the dead thread's queue is empty");
  t.is(scheduler.stats().workerDeaths, 1);

  // The others go on and get everything.
  for (let seq = 50; seq < 100; seq++) {
    const body = encode('iobuf', 0, seq, channels.pool) as IOBuf;
    t.is(await channels.sendAsync('w', body), 2);
    body.release();
  }
  const end = encode('iobuf', 0, END, channels.pool) as IOBuf;
  await channels.sendAsync('w', end);
  end.release();
  for (const report of [...(await survivor), await mainReport] as CheckReport[]) {
    t.deepEqual(report.errors, []);
    t.deepEqual(report.counts, { w: [100] });
  }

  // A new subscriber on the replacement worker's group receives.
  const spec2: VerifySpec = { channels: ['w2'], modes: ['string', 'bytes'], ready: 'ready' };
  const fresh = runOn(scheduler, group, verify, [[spec2]]);
  t.deepEqual(await takeText(readySub, 1), [String(group)]);
  await Promise.all([
    runOn(scheduler, 1 - group, publishSeq, [
      [{ channels: ['w2'], sender: 0, count: 200, mode: 'string' }],
    ]),
    (async () => {
      for (let seq = 0; seq <= 200; seq++) {
        await channels.sendAsync('w2', encode('bytes', 1, seq === 200 ? END : seq));
      }
    })(),
  ]);
  const [report] = (await fresh) as CheckReport[];
  t.is(report.group, group);
  t.deepEqual(report.errors, []);
  t.deepEqual(report.counts, { w2: [200, 200] });

  mainSub.close();
  await waitUntil(() => channels.stats().messagesInFlight === 0, 'nothing in flight');
  blocksBack(t, channels, blocksBefore, 3);
});

test('a sender waiting for room on a worker that dies goes on', async (t) => {
  t.timeout(60_000);
  const ringCapacity = 8;
  const { scheduler, channels, words } = await startHub(
    t,
    { workers: 2 },
    { queueCapacity: 4, ringCapacity },
  );
  const reports = channels.subscribe('hready');
  const exitGate = 0;
  const progress = 1;
  const victim = scheduler.spawn(holder, ['w'], 'hready', 4, 'exit', exitGate);
  const { group } = JSON.parse((await takeText(reports, 1))[0]) as { group: number };
  const mainSub = channels.subscribe('w');
  const got = (async () => {
    const texts: string[] = [];
    for (;;) {
      const [text] = await takeText(mainSub, 1);
      if (text === 'end') return texts;
      texts.push(text);
    }
  })();
  const count = 200;
  const publisher = runOn(scheduler, 1 - group, countingPublisher, [['w', count, progress]]);
  await takeText(reports, 1); // holding 4; its thread stops polling
  // At least a whole thread queue goes before the publisher has to wait (it is woken when the
  // queue is down to half, so it may wait with a few cells free: the queue need not be full).
  await waitUntil(() => Atomics.load(words, progress) >= ringCapacity, `${ringCapacity} sent`);
  await pause(20);
  t.true(Atomics.load(words, progress) <= ringCapacity + 4, 'the publisher waits');

  openGate(words, exitGate);
  await t.throwsAsync(scheduler.join(victim), { code: ErrorCode.WORKER_DIED });
  t.deepEqual(await publisher, [1 - group], 'the publisher went on');
  t.deepEqual(
    await got,
    Array.from({ length: count }, (_, i) => String(i)),
  );
  mainSub.close();
  await waitUntil(() => channels.stats().messagesInFlight === 0, 'nothing in flight');
  // The group is back: its replacement worker runs.
  await waitUntil(() => scheduler.stats().groups[group].alive, 'the replacement worker');
});

test("closing Channels closes this thread's subscribers and frees what they held; fibers go on", async (t) => {
  t.timeout(60_000);
  const { scheduler, channels } = await startHub(t, { workers: 2 });
  const readySub = channels.subscribe('ready');
  const spec: VerifySpec = { channels: ['f'], modes: ['string'], ready: 'ready' };
  const fiber = runOn(scheduler, -1, verify, [[spec]]);
  await take(readySub, 1);
  const held = channels.subscribe('c');
  const reader = channels.subscribe('c');
  const reading = (async () => {
    let count = 0;
    for await (const message of reader) {
      (message.data as IOBuf).release();
      count++;
    }
    return count;
  })();
  sendBig(channels, 'c', 3);
  await waitUntil(() => held.stats().queued === 3 && reader.stats().received === 3, 'queued');
  t.is(channels.stats().messagesInFlight, 3);

  channels.close();
  t.is(await reading, 3, 'a for await loop ends');
  t.is(subscribersOf(channels, 'c'), 0);
  t.is(subscribersOf(channels, 'f'), 1, 'the fiber is still there');
  t.is(channels.stats().messagesInFlight, 0);
  t.throws(() => held.recv(), { code: ErrorCode.CLOSED });
  t.throws(() => channels.send('c', 'x'), { code: ErrorCode.CLOSED });
  t.throws(() => channels.subscribe('c'), { code: ErrorCode.CLOSED });
  t.throws(() => channels.configure('c', { overflow: 'block' }), { code: ErrorCode.CLOSED });

  // Fibers still talk to each other.
  await runOn(scheduler, -1, publishSeq, [
    [{ channels: ['f'], sender: 0, count: 100, mode: 'string' }],
  ]);
  const [report] = (await fiber) as CheckReport[];
  t.deepEqual(report.errors, []);
  t.deepEqual(report.counts, { f: [100] });
  t.is(channels.stats().messagesInFlight, 0);
});

test('a process whose awaited subscriber is closed ends by itself', async (t) => {
  t.timeout(60_000);
  const child = spawn(process.execPath, [new URL('./exit-peer.ts', import.meta.url).pathname], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  const ended = await Promise.race([
    once(child, 'exit').then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 20_000).unref()),
  ]);
  if (!ended) child.kill();
  t.true(ended, 'the process ended within 20 s');
  t.is(output.trim(), 'ended');
});
