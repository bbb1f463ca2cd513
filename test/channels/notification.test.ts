// Edge-triggered notification: one per empty → non-empty transition of a subscriber's queue, and
// only when re-armed by a recv() that returned null — on the main thread and in a fiber.

import test from 'ava';
import { pause, runOn, startHub, take, takeText, waitUntil } from './helpers.ts';
import { notifyScript } from './tasks/checks.ts';

test('main thread: one notification per armed transition from empty to non-empty', async (t) => {
  t.timeout(60_000);
  const { channels } = await startHub(t, { workers: 1 });
  const sub = channels.subscribe('n');
  const stats = () => sub.stats();
  t.is(stats().notifications, 0);

  // 3 messages into an empty, armed queue: one notification.
  for (const text of ['a', 'b', 'c']) channels.send('n', text);
  await sub.ready;
  await waitUntil(() => stats().queued === 3, '3 queued');
  t.is(stats().notifications, 1);
  t.is(sub.recv()?.data, 'a');

  // 2 more while 2 are still queued: no transition, no notification.
  channels.send('n', 'd');
  channels.send('n', 'e');
  await waitUntil(() => stats().queued === 4, '4 queued');
  t.is(stats().notifications, 1);

  // Drained until null (re-armed), then 1: the second notification.
  const drained: string[] = [];
  for (let m = sub.recv(); m !== null; m = sub.recv()) drained.push(m.data as string);
  t.deepEqual(drained, ['b', 'c', 'd', 'e']);
  const woken = sub.ready;
  channels.send('n', 'f');
  await woken;
  t.is(stats().notifications, 2);
  t.is(sub.recv()?.data, 'f');

  // Emptied by a recv() that returned a message: not re-armed, so the next one does not notify.
  channels.send('n', 'g');
  await waitUntil(() => stats().queued === 1, 'g queued');
  t.is(stats().notifications, 2);
  t.is(sub.recv()?.data, 'g');
  t.is(sub.recv(), null); // re-arms

  // Sent while nobody waits: the notification is pending and `ready` resolves at once.
  channels.send('n', 'h');
  await waitUntil(() => stats().queued === 1, 'h queued');
  t.is(stats().notifications, 3);
  await sub.ready;
  t.is(sub.recv()?.data, 'h');
  t.is(stats().received, 8);
});

test('main thread: each subscriber has its own notifications', async (t) => {
  t.timeout(60_000);
  const { channels } = await startHub(t, { workers: 1 });
  const eager = channels.subscribe('n');
  const lazy = channels.subscribe('n');
  for (let round = 0; round < 5; round++) {
    channels.send('n', `r${round}a`);
    channels.send('n', `r${round}b`);
    // The eager one drains until null every round; the lazy one never reads.
    t.deepEqual(
      (await take(eager, 2)).map((m) => m.data),
      [`r${round}a`, `r${round}b`],
    );
    t.is(eager.recv(), null);
  }
  await waitUntil(() => lazy.stats().queued === 10, 'the lazy queue full of 10');
  // Both messages of a round are sent in one turn of the event loop, so they land together.
  t.is(eager.stats().notifications, 5, 'the eager one: one per round');
  t.is(lazy.stats().notifications, 1, 'the lazy one: a single transition');
});

test('fiber: one notification per armed transition; ready() continues at once when one is pending', async (t) => {
  t.timeout(60_000);
  const { scheduler, channels } = await startHub(t, { workers: 2 });
  const ctl = channels.subscribe('ctl');
  const script = runOn(scheduler, -1, notifyScript, [['n', 'ctl']]);
  const step = async (name: string) => {
    const [report] = await takeText(ctl, 1);
    const parsed = JSON.parse(report);
    t.is(parsed.step, name);
    return parsed as { notifications: number; queued: number; received: number };
  };
  const send = (text: string) => t.is(channels.send('n', text), 1);

  t.is((await step('joined')).notifications, 0);
  for (const text of ['a', 'b', 'c']) send(text);
  let report = await step('took one of three');
  t.like(report, { notifications: 1, queued: 2, received: 1 });
  send('d');
  send('e');
  report = await step('five sent');
  t.like(report, { notifications: 1, queued: 4 });
  report = await step('drained');
  t.like(report, { notifications: 1, queued: 0, received: 5 });
  send('f');
  report = await step('woken');
  t.like(report, { notifications: 2, queued: 0, received: 6 });
  send('g');
  report = await step('not re-armed');
  t.like(report, { notifications: 2, queued: 1 });
  report = await step('re-armed');
  t.like(report, { notifications: 2, queued: 0, received: 7 });
  send('h');
  report = await step('pending');
  t.like(report, { notifications: 3, queued: 0, received: 8 });
  const [received] = (await script) as string[][];
  t.deepEqual(received, ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']);
});

test('main thread: two readers awaiting ready at once are both woken', async (t) => {
  t.timeout(60_000);
  const { channels } = await startHub(t, { workers: 1 });
  const sub = channels.subscribe('n');
  const woken: string[] = [];
  const first = sub.ready.then(() => woken.push('first'));
  const second = sub.ready.then(() => woken.push('second'));
  channels.send('n', 'x');
  await second;
  // A later `ready` replaces the earlier one's waiter: the first is never resolved.
  await Promise.race([first, pause(5000)]);
  t.deepEqual(woken.sort(), ['first', 'second']);
});
