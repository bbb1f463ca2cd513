// Bad input: every bad call fails with its error code, on the main thread and in fibers, and
// none disturbs the other subscribers — they still get every good message, in order.

import { Channels } from '@weft/channels';
import { IOBuf } from '@weft/iobuf';
import { ErrorCode } from '@weft/shm';
import test from 'ava';
import { openGate, runOn, startHub, take, takeText, verifyHere, waitUntil } from './helpers.ts';
import { badCalls, gated, tryJoin, type VerifySpec, verify } from './tasks/checks.ts';
import { type CheckReport, END, encode } from './tasks/codec.ts';

const subscribersOf = (channels: Channels, name: string) =>
  channels.stats().channels.find((c) => c.name === name)?.subscribers ?? 0;

test('bad calls on the main thread throw their codes and disturb no other subscriber', async (t) => {
  t.timeout(60_000);
  const maxBytes = 16 * 1024; // (the numbered text bodies reach 10 KB)
  const { scheduler, channels } = await startHub(t, { workers: 2 }, { maxMessageBytes: maxBytes });
  const readySub = channels.subscribe('ready');
  const spec: VerifySpec = { channels: ['good'], modes: ['string'], ready: 'ready' };
  const fiber = runOn(scheduler, -1, verify, [[spec]]);
  await take(readySub, 1);
  const goodSub = channels.subscribe('good');
  const mainReport = verifyHere(goodSub, ['good'], ['string']);
  let seq = 0;
  const bad = (what: string, call: () => unknown, code: string) => {
    t.throws(call, { code }, what);
    t.is(channels.send('good', encode('string', 0, seq++)), 2);
  };
  const badAsync = async (what: string, call: () => Promise<unknown>, code: string) => {
    await t.throwsAsync(call, { code }, what);
    t.is(channels.send('good', encode('string', 0, seq++)), 2);
  };
  const { INVALID_ARGUMENT, OUT_OF_RANGE, TOO_LARGE, NOT_SUBSCRIBED, CLOSED } = ErrorCode;

  // Channel names.
  const other = channels.subscribe();
  bad('join ""', () => other.join(''), INVALID_ARGUMENT);
  bad('join 256 bytes', () => other.join('n'.repeat(256)), OUT_OF_RANGE);
  bad('join 256 UTF-8 bytes', () => other.join('é'.repeat(128)), OUT_OF_RANGE);
  bad('join a number', () => other.join(42 as unknown as string), INVALID_ARGUMENT);
  bad('join a lone surrogate', () => other.join('a\ud800'), INVALID_ARGUMENT);
  bad('leave ""', () => other.leave(''), INVALID_ARGUMENT);
  bad('send on ""', () => channels.send('', 'x'), INVALID_ARGUMENT);
  bad('send on 256 bytes', () => channels.send('n'.repeat(256), 'x'), OUT_OF_RANGE);
  bad('trySend on ""', () => channels.trySend('', 'x'), INVALID_ARGUMENT);
  await badAsync('sendAsync on ""', () => channels.sendAsync('', 'x'), INVALID_ARGUMENT);
  bad('configure ""', () => channels.configure('', { overflow: 'block' }), INVALID_ARGUMENT);
  // 255 bytes is fine.
  const longest = `${'é'.repeat(127)}x`;
  other.join(longest);
  t.is(channels.send(longest, 'at the limit'), 1);
  t.is((await take(other, 1))[0].channel, longest);
  other.leave(longest);

  // Bodies.
  bad('a number', () => channels.send('good', 42 as unknown as string), INVALID_ARGUMENT);
  bad('null', () => channels.send('good', null as unknown as string), INVALID_ARGUMENT);
  bad('undefined', () => channels.send('good', undefined as unknown as string), INVALID_ARGUMENT);
  bad('an object', () => channels.send('good', {} as unknown as string), INVALID_ARGUMENT);
  bad('an Int32Array', () => channels.send('good', new Int32Array(1) as never), INVALID_ARGUMENT);
  bad('an ArrayBuffer', () => channels.send('good', new ArrayBuffer(4) as never), INVALID_ARGUMENT);
  bad(
    'a DataView',
    () => channels.send('good', new DataView(new ArrayBuffer(4)) as never),
    INVALID_ARGUMENT,
  );
  bad('trySend null', () => channels.trySend('good', null as unknown as string), INVALID_ARGUMENT);
  bad('too large text', () => channels.send('good', 'x'.repeat(maxBytes + 1)), TOO_LARGE);
  bad('too large UTF-8', () => channels.send('good', 'é'.repeat(maxBytes / 2 + 1)), TOO_LARGE);
  bad('too large bytes', () => channels.send('good', new Uint8Array(maxBytes + 1)), TOO_LARGE);
  const tooLarge = IOBuf.from(new Uint8Array(maxBytes + 1), channels.pool);
  bad('too large IOBuf', () => channels.send('good', tooLarge), TOO_LARGE);
  tooLarge.release();
  await badAsync(
    'sendAsync too large',
    () => channels.sendAsync('good', 'é'.repeat(maxBytes)),
    TOO_LARGE,
  );
  const released = IOBuf.from('gone', channels.pool);
  released.release();
  bad('a released IOBuf', () => channels.send('good', released), ErrorCode.RELEASED);
  // Too large even where nobody listens.
  bad(
    'too large, no subscriber',
    () => channels.send('nobody', 'x'.repeat(maxBytes + 1)),
    TOO_LARGE,
  );
  // Exactly the limit is fine.
  other.join('edge');
  t.is(channels.send('edge', 'é'.repeat(maxBytes / 2)), 1);
  t.is(channels.send('edge', new Uint8Array(maxBytes)), 1);
  const edge = await take(other, 2);
  t.is(edge[0].data, 'é'.repeat(maxBytes / 2));
  t.is((edge[1].data as Uint8Array).length, maxBytes);

  // Origins.
  bad('origin -1', () => channels.send('good', 'x', { origin: -1 }), OUT_OF_RANGE);
  bad('origin 2^23', () => channels.send('good', 'x', { origin: 2 ** 23 }), OUT_OF_RANGE);
  bad('origin 1.5', () => channels.send('good', 'x', { origin: 1.5 }), OUT_OF_RANGE);
  bad('origin "1"', () => channels.send('good', 'x', { origin: '1' as never }), INVALID_ARGUMENT);

  // Policies.
  bad(
    'overflow "nope"',
    () => channels.configure('good', { overflow: 'nope' as never }),
    INVALID_ARGUMENT,
  );
  bad('no settings', () => channels.configure('good', null as never), INVALID_ARGUMENT);
  t.is(channels.overflowOf('good'), 'error', 'unchanged');

  // Receiving with nothing joined.
  const empty = channels.subscribe();
  bad('recv, nothing joined', () => empty.recv(), NOT_SUBSCRIBED);
  await badAsync('ready, nothing joined', () => empty.ready, NOT_SUBSCRIBED);
  empty.join('somewhere');
  empty.leave('somewhere');
  bad('recv after leaving everything', () => empty.recv(), NOT_SUBSCRIBED);
  t.is(empty.stats().channels, 0);

  // A closed subscriber.
  empty.close();
  empty.close(); // twice is fine
  bad('recv, closed', () => empty.recv(), CLOSED);
  bad('join, closed', () => empty.join('good'), CLOSED);
  bad('leave, closed', () => empty.leave('good'), CLOSED);

  t.is(channels.send('good', encode('string', 0, END)), 2);
  for (const report of [...(await fiber), await mainReport] as CheckReport[]) {
    t.deepEqual(report.errors, []);
    t.deepEqual(report.counts, { good: [seq] }, 'every good message, once, in order');
  }
  t.is(subscribersOf(channels, 'good'), 1);
  other.close();
  goodSub.close();
  await waitUntil(() => channels.stats().messagesInFlight === 0, 'nothing in flight');
});

test('bad calls in a fiber throw their codes and disturb no other subscriber', async (t) => {
  t.timeout(60_000);
  const maxBytes = 2048;
  const { scheduler, channels, words } = await startHub(
    t,
    { workers: 2 },
    { maxMessageBytes: maxBytes },
  );
  const readySub = channels.subscribe('ready');
  openGate(words, 0);
  // A good subscriber on each group (one shares its thread with the bad fiber), and one here.
  const good = [0, 1].map((group) =>
    runOn(scheduler, group, gated, [['good', 'ready', 0, true, 0]]),
  );
  await take(readySub, 2);
  const goodSub = channels.subscribe('good');
  const [result] = (await runOn(scheduler, -1, badCalls, [['good', 0, maxBytes]])) as {
    codes: Record<string, string>;
    sent: number;
  }[];
  const { INVALID_ARGUMENT, OUT_OF_RANGE, TOO_LARGE, NOT_SUBSCRIBED, RELEASED } = ErrorCode;
  t.deepEqual(result.codes, {
    'recv before join': NOT_SUBSCRIBED,
    'next before join': NOT_SUBSCRIBED,
    'ready before join': NOT_SUBSCRIBED,
    'leave before join': 'ok',
    'stats before join': 'ok',
    'join empty name': INVALID_ARGUMENT,
    'join 256-byte name': OUT_OF_RANGE,
    'join 256-byte UTF-8 name': OUT_OF_RANGE,
    'join non-string name': INVALID_ARGUMENT,
    'send empty name': INVALID_ARGUMENT,
    'send 256-byte name': OUT_OF_RANGE,
    'send number': INVALID_ARGUMENT,
    'send null': INVALID_ARGUMENT,
    'send object': INVALID_ARGUMENT,
    'send Int32Array': INVALID_ARGUMENT,
    'send too large text': TOO_LARGE,
    'send too large UTF-8 text': TOO_LARGE,
    'send too large bytes': TOO_LARGE,
    'send too large iobuf': TOO_LARGE,
    'send released iobuf': RELEASED,
    'join 255-byte name': 'ok',
    'leave empty name': INVALID_ARGUMENT,
    'leave 255-byte name': 'ok',
    'recv after leaving all': NOT_SUBSCRIBED,
    'next after leaving all': NOT_SUBSCRIBED,
    'ready after leaving all': NOT_SUBSCRIBED,
  });
  const expected = Array.from({ length: result.sent }, (_, i) => `good${i}`);
  channels.send('good', 'end');
  for (const [report] of (await Promise.all(good)) as { got: string[] }[][]) {
    t.deepEqual(report.got, expected);
  }
  t.deepEqual(await takeText(goodSub, result.sent), expected);
  t.is(subscribersOf(channels, 'good'), 1);
});

test('E_CAPACITY past maxSubscribers on a thread, on the main thread and in fibers', async (t) => {
  t.timeout(60_000);
  const { scheduler, channels, words } = await startHub(t, { workers: 1 }, { maxSubscribers: 3 });
  const subs = [channels.subscribe('cap'), channels.subscribe('cap'), channels.subscribe()];
  t.throws(() => channels.subscribe('cap'), {
    code: ErrorCode.CAPACITY,
    message: /maxSubscribers/,
  });
  subs[2].close();
  const ready = channels.subscribe('ready'); // the room that close made
  t.is(subscribersOf(channels, 'cap'), 2);

  // Four fibers on one group: the fourth cannot join.
  const gate = 0;
  const joiners = runOn(scheduler, 0, tryJoin, [
    ['cap', 'ready', gate],
    ['cap', 'ready', gate],
    ['cap', 'ready', gate],
    ['cap', 'ready', gate],
  ]);
  t.deepEqual((await takeText(ready, 4)).sort(), ['E_CAPACITY', 'ok', 'ok', 'ok']);
  t.is(subscribersOf(channels, 'cap'), 5);
  // The others are not disturbed.
  t.is(channels.send('cap', 'hello'), 2);
  for (const sub of subs.slice(0, 2)) t.deepEqual(await takeText(sub, 1), ['hello']);
  openGate(words, gate);
  t.deepEqual(((await joiners) as string[]).sort(), ['E_CAPACITY', 'ok', 'ok', 'ok']);
  t.is(subscribersOf(channels, 'cap'), 2, 'the fibers left');
  // Their numbers are free again.
  const again = runOn(scheduler, 0, tryJoin, [
    ['cap', 'ready', gate],
    ['cap', 'ready', gate],
    ['cap', 'ready', gate],
  ]);
  t.deepEqual(await takeText(ready, 3), ['ok', 'ok', 'ok']);
  t.deepEqual(await again, ['ok', 'ok', 'ok']);
});

test('E_CAPACITY past maxChannels names; the channels there still work', async (t) => {
  t.timeout(60_000);
  const { channels } = await startHub(t, { workers: 1 }, { maxChannels: 4 });
  const sub = channels.subscribe('a', 'b', 'c');
  channels.configure('d', { overflow: 'drop-oldest' });
  t.throws(() => sub.join('e'), { code: ErrorCode.CAPACITY, message: /maxChannels/ });
  t.throws(() => channels.subscribe('f'), { code: ErrorCode.CAPACITY });
  t.throws(() => channels.configure('g', { overflow: 'block' }), { code: ErrorCode.CAPACITY });
  t.is(channels.send('h', 'nobody ever joined h'), 0, 'a send does not add a name');
  t.is(channels.overflowOf('h'), 'error');
  t.is(sub.stats().channels, 3);
  for (const name of ['a', 'b', 'c']) t.is(channels.send(name, name), 1);
  t.deepEqual(
    (await take(sub, 3)).map((m) => `${m.channel}=${m.data}`),
    ['a=a', 'b=b', 'c=c'],
  );
  t.deepEqual(
    channels
      .stats()
      .channels.map((c) => c.name)
      .sort(),
    ['a', 'b', 'c', 'd'],
  );
});

test('E_CAPACITY past maxMessages in flight: the failed send reaches nobody', async (t) => {
  t.timeout(60_000);
  const { channels } = await startHub(t, { workers: 1 }, { maxMessages: 8 });
  const lazy = channels.subscribe('m');
  const eager = channels.subscribe('m');
  for (let i = 0; i < 8; i++) t.is(channels.send('m', String(i)), 1);
  t.throws(() => channels.send('m', 'failed'), {
    code: ErrorCode.CAPACITY,
    message: /maxMessages/,
  });
  t.deepEqual(await takeText(eager, 8), ['0', '1', '2', '3', '4', '5', '6', '7']);
  t.throws(() => channels.trySend('m', 'failed'), { code: ErrorCode.CAPACITY });
  t.is(channels.stats().messagesInFlight, 8, 'the lazy one holds them');
  t.deepEqual(await takeText(lazy, 1), ['0']);
  t.is(channels.send('m', '8'), 1);
  t.deepEqual(await takeText(eager, 1), ['8']);
  t.deepEqual(await takeText(lazy, 8), ['1', '2', '3', '4', '5', '6', '7', '8']);
  t.is(eager.recv(), null);
  t.is(channels.stats().messagesInFlight, 0);
});

test('Channels.start rejects bad options, and the hub already started is unharmed', async (t) => {
  t.timeout(60_000);
  const { scheduler, channels } = await startHub(t, { workers: 1 });
  const sub = channels.subscribe('still');
  const bad = [
    [{ ringCapacity: 100 }, ErrorCode.OUT_OF_RANGE],
    [{ ringCapacity: 1 }, ErrorCode.OUT_OF_RANGE],
    [{ maxSubscribers: 0 }, ErrorCode.OUT_OF_RANGE],
    [{ queueCapacity: 1.5 }, ErrorCode.OUT_OF_RANGE],
    [{ maxChannels: 0 }, ErrorCode.OUT_OF_RANGE],
    [{ maxMessages: '8' }, ErrorCode.INVALID_ARGUMENT],
    [{ maxMessageBytes: -1 }, ErrorCode.OUT_OF_RANGE],
    [{ pool: {} }, ErrorCode.INVALID_ARGUMENT],
  ] as const;
  for (const [options, code] of bad) {
    await t.throwsAsync(
      Channels.start(scheduler, options as never),
      { code },
      JSON.stringify(options),
    );
  }
  t.is(channels.send('still', 'works'), 1);
  t.deepEqual(await takeText(sub, 1), ['works']);
});

// ---- fixed bugs, kept as regression tests ----

test('a subscribe() that throws on a bad name leaves no subscriber behind', async (t) => {
  t.timeout(60_000);
  const { channels } = await startHub(t, { workers: 1 }, { queueCapacity: 32, maxSubscribers: 3 });
  const good = channels.subscribe('good');
  t.throws(() => channels.subscribe('good', ''), { code: ErrorCode.INVALID_ARGUMENT });
  // The half-made subscriber joined 'good' before the bad name threw, and nobody can close it.
  t.is(subscribersOf(channels, 'good'), 1, 'no subscriber left behind');
  channels.subscribe();
  channels.subscribe(); // its number is free
  // Its queue would fill and hold back this thread's dispatch: the good one would starve.
  for (let i = 0; i < 20; i++) channels.send('good', String(i));
  await waitUntil(() => good.stats().queued === 20, 'all 20 queued for the good one', 5000);
});

test("a closed subscriber's ready is E_CLOSED, as every later call", async (t) => {
  t.timeout(60_000);
  const { channels } = await startHub(t, { workers: 1 });
  const sub = channels.subscribe('x');
  channels.send('x', 'pending'); // a notification is pending when it closes
  await waitUntil(() => sub.stats().queued === 1, 'queued');
  sub.close();
  await t.throwsAsync(() => sub.ready, { code: ErrorCode.CLOSED });
  const quiet = channels.subscribe('y');
  quiet.close();
  await t.throwsAsync(() => quiet.ready, { code: ErrorCode.CLOSED });
});
