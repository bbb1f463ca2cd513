// Stress: three publishers (a fiber on each of 2 groups, and the main thread) on 3 channels with
// small queues, steady subscribers on every thread, and subscribers that keep joining and leaving
// meanwhile. The steady ones get every message exactly once in each sender's order; the others
// only ever see increasing sequences; afterwards nothing is left in flight.

import type { Channels, Subscriber } from '@weft/channels';
import test from 'ava';
import { publishHere, runOn, startHub, take, verifyHere, waitUntil } from './helpers.ts';
import {
  type ChurnSpec,
  churn,
  publishSeq,
  sipper,
  type VerifySpec,
  verify,
} from './tasks/checks.ts';
import { type CheckReport, type Mode, SequenceChecker } from './tasks/codec.ts';

const CHANNELS = ['A', 'B', 'C'];
// Sender 0: a fiber on group 0; sender 1: a fiber on group 1; sender 2: the main thread.
const MODES: Mode[] = ['string', 'bytes', 'iobuf'];
const COUNTS = [20_000, 20_000, 2000];

/** The main thread's subscriber that comes and goes (as the churn task does in fibers). */
async function churnHere(sub: Subscriber, seed: number) {
  const checker = new SequenceChecker(CHANNELS, MODES, true);
  let state = seed;
  const random = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };
  let rounds = 0;
  let received = 0;
  for (let stop = false; !stop; rounds++) {
    const subset = CHANNELS.filter(() => random() < 0.5);
    if (subset.length === 0) subset.push(CHANNELS[rounds % CHANNELS.length]);
    for (const channel of subset) sub.join(channel);
    const want = 1 + Math.floor(random() * 300);
    for (let i = 0; i < want; i++) {
      const [message] = await take(sub, 1);
      if (message.channel === 'stop') {
        stop = true;
        break;
      }
      checker.take(message.channel, message.data);
      received++;
    }
    for (const channel of subset) sub.leave(channel);
    await new Promise(setImmediate);
  }
  sub.close();
  return { group: -1, rounds, received, errors: checker.errors };
}

/** Main-thread subscribers made and closed one after the other while `busy()`. */
async function freshHere(channels: Channels, busy: () => boolean) {
  const checker = new SequenceChecker(CHANNELS, MODES, true);
  let made = 0;
  let received = 0;
  while (busy()) {
    const subset = CHANNELS.filter((_, i) => (made >> i) & 1);
    const sub = channels.subscribe(...(subset.length > 0 ? subset : ['A']));
    made++;
    for (let i = 0; i < 50 && busy(); i++) {
      const message = sub.recv();
      if (message === null) await new Promise(setImmediate);
      else {
        checker.take(message.channel, message.data);
        received++;
      }
    }
    sub.close();
  }
  return { made, received, errors: checker.errors };
}

/** Fibers that join, receive a little and end, one after the other, while `busy()`. */
async function sippers(scheduler: Parameters<typeof runOn>[0], group: number, busy: () => boolean) {
  const results: { received: number; errors: string[] }[] = [];
  for (let seed = 1; busy(); seed++) {
    const spec: ChurnSpec = { channels: CHANNELS, modes: MODES, stop: '', ready: '', seed };
    results.push(...((await runOn(scheduler, group, sipper, [[spec, 100, 0]])) as typeof results));
  }
  return results;
}

test('3 publishers, 3 channels, steady and churning subscribers on every thread', async (t) => {
  t.timeout(115_000);
  const { scheduler, channels, words } = await startHub(
    t,
    { workers: 2 },
    { queueCapacity: 64, ringCapacity: 256 },
  );
  const readySub = channels.subscribe('ready');
  const steady = (subset: string[]): VerifySpec => ({
    channels: subset,
    modes: MODES,
    ready: 'ready',
  });
  const churner = (seed: number): ChurnSpec => ({
    channels: CHANNELS,
    modes: MODES,
    stop: 'stop',
    ready: 'ready',
    seed,
  });
  const steadyFibers = [
    runOn(scheduler, 0, verify, [[steady(['A', 'B', 'C'])], [steady(['A'])]]),
    runOn(scheduler, 1, verify, [[steady(['B', 'C'])], [steady(['C'])]]),
  ];
  const churners = [
    runOn(scheduler, 0, churn, [[churner(1)], [churner(2)]]),
    runOn(scheduler, 1, churn, [[churner(3)], [churner(4)]]),
  ];
  await take(readySub, 8);
  const mainSteadySub = channels.subscribe('A', 'B');
  const mainSteady = verifyHere(mainSteadySub, ['A', 'B'], MODES);
  const mainChurn = churnHere(channels.subscribe('stop'), 5);

  const spec = (sender: number) => ({
    channels: CHANNELS,
    sender,
    count: COUNTS[sender],
    mode: MODES[sender],
  });
  let publishing = true;
  const busy = () => publishing;
  const freshMain = freshHere(channels, busy);
  const sipping = [sippers(scheduler, 0, busy), sippers(scheduler, 1, busy)];
  const publishers = await Promise.all([
    runOn(scheduler, 0, publishSeq, [[spec(0)]]),
    runOn(scheduler, 1, publishSeq, [[spec(1)]]),
    publishHere(channels, spec(2)),
  ]);
  t.is(publishers.length, 3);
  publishing = false;
  Atomics.store(words, 0, 1); // the sippers stop when their queue is empty
  const made = await freshMain;
  t.deepEqual(made.errors, []);
  t.log(`main: ${made.made} subscribers made and closed, ${made.received} messages`);
  for (const [group, list] of (await Promise.all(sipping)).entries()) {
    t.deepEqual(
      list.flatMap((sip) => sip.errors),
      [],
    );
    const got = list.reduce((sum, sip) => sum + sip.received, 0);
    t.log(`group ${group}: ${list.length} short-lived fibers, ${got} messages`);
  }

  const reports = [...(await Promise.all(steadyFibers)).flat(), await mainSteady] as CheckReport[];
  for (const report of reports) {
    t.deepEqual(report.errors, [], `steady subscriber on group ${report.group}`);
    for (const channel of Object.keys(report.counts)) {
      t.deepEqual(report.counts[channel], COUNTS, `group ${report.group}, channel ${channel}`);
    }
  }
  const total = reports.reduce(
    (sum, report) =>
      sum +
      Object.values(report.counts).reduce((s, counts) => s + counts.reduce((a, b) => a + b), 0),
    0,
  );
  // 3 channels on group 0's first, 1 on its second, 2 + 1 on group 1's, 2 on the main thread's.
  t.is(total, 9 * COUNTS.reduce((a, b) => a + b));

  await channels.sendAsync('stop', 'stop');
  const churned = [...(await Promise.all(churners)).flat(), await mainChurn] as {
    group: number;
    rounds: number;
    received: number;
    errors: string[];
  }[];
  t.is(churned.length, 5);
  for (const report of churned) {
    t.deepEqual(report.errors, [], `churning subscriber on group ${report.group}`);
    t.log(`churner on ${report.group}: ${report.rounds} rounds, ${report.received} messages`);
  }

  readySub.close();
  mainSteadySub.close();
  await waitUntil(() => channels.stats().messagesInFlight === 0, 'nothing in flight');
  for (const channel of channels.stats().channels) {
    t.is(channel.subscribers, 0, `nobody left on ${channel.name}`);
    t.is(channel.dropped, 0);
  }
});
