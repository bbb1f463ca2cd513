// Tasks for the channels tests: checked subscribers and numbered publishers, placement on a given
// group, slow and stopped subscribers for the overflow policies, and fibers that misbehave.

import {
  channelPool,
  type FiberSubscriber,
  join,
  leave,
  next,
  ready,
  recv,
  send,
  subscriberStats,
} from '@weft/channels';
import { IOBuf } from '@weft/iobuf';
import {
  groupIndex,
  join as joinTask,
  schedulerData,
  sleep,
  spawnUrgent,
  type TaskId,
  type TaskRef,
  task,
  yieldNow,
} from '@weft/scheduler';
import {
  type CheckReport,
  describeBody,
  END,
  encode,
  type Mode,
  SequenceChecker,
  samples,
} from './codec.ts';

/** Polls `done` every millisecond (the fiber sleeps, its group runs on). */
function* waitFor(done: () => boolean) {
  while (!done()) yield* sleep(1);
}

/**
 * Words shared by the main thread and every worker (the scheduler's `data`, see helpers.ts):
 * gates the main thread opens and counters it reads. Task arguments are copies, never shared.
 */
export function sharedWords(): Int32Array {
  return (schedulerData() as { words: Int32Array }).words;
}

function codeOf(error: unknown): string {
  return String((error as { code?: unknown }).code ?? error);
}

/** What a checked subscriber does: joins, says it is ready, checks until every end marker. */
export interface VerifySpec {
  channels: string[];
  /** The mode of each sender (its index in the bodies). */
  modes: Mode[];
  /** Where to say "ready" (a main-thread subscriber counts the subscribers). */
  ready: string;
}

export const verify = task('verify', function* (spec: VerifySpec): Generator<unknown, CheckReport> {
  let sub: FiberSubscriber | undefined;
  for (const channel of spec.channels) sub = join(channel);
  yield* send(spec.ready, String(groupIndex()));
  const checker = new SequenceChecker(spec.channels, spec.modes);
  while (!checker.done) {
    const message = yield* (sub as FiberSubscriber).next();
    checker.take(message.channel, message.data);
  }
  const stats = (sub as FiberSubscriber).stats();
  return {
    group: groupIndex(),
    counts: checker.counts,
    errors: checker.errors,
    notifications: stats.notifications,
    dropped: stats.dropped,
  };
});

/** What a numbered publisher does: `count` messages on each channel, interleaved, then end markers. */
export interface PublishSpec {
  channels: string[];
  sender: number;
  count: number;
  mode: Mode;
}

/** The threads each send reached, as a range. */
export interface PublishReport {
  group: number;
  minThreads: number;
  maxThreads: number;
}

export const publishSeq = task('publishSeq', function* (spec: PublishSpec): Generator<
  unknown,
  PublishReport
> {
  const pool = channelPool();
  let minThreads = Number.POSITIVE_INFINITY;
  let maxThreads = 0;
  for (let seq = 0; seq <= spec.count; seq++) {
    for (const channel of spec.channels) {
      const body = encode(spec.mode, spec.sender, seq === spec.count ? END : seq, pool);
      const threads = yield* send(channel, body);
      if (body instanceof IOBuf) body.release();
      minThreads = Math.min(minThreads, threads);
      maxThreads = Math.max(maxThreads, threads);
    }
  }
  return { group: groupIndex(), minThreads, maxThreads };
});

/** Sends every kind of body (codec.ts samples) on `channel`; returns how many. */
export const sendSamples = task('sendSamples', function* (channel: string) {
  const bodies = samples(channelPool());
  for (const body of bodies) {
    yield* send(channel, body);
    if (body instanceof IOBuf) body.release();
  }
  return bodies.length;
});

/** Receives `count` messages and describes each (type and bytes); releases IOBufs. */
export const receiveSamples = task(
  'receiveSamples',
  function* (channel: string, readyChannel: string, count: number) {
    const sub = join(channel);
    yield* send(readyChannel, String(groupIndex()));
    const got: { type: string; hex: string; origin: number; timestamp: number }[] = [];
    while (got.length < count) {
      const message = yield* sub.next();
      got.push({
        ...describeBody(message.data),
        origin: message.origin,
        timestamp: message.timestamp,
      });
      if (message.data instanceof IOBuf) message.data.release();
    }
    return got;
  },
);

// ---- placement -------------------------------------------------------------------------------

const children: Record<string, TaskRef> = {};

/**
 * Runs one `child` task per entry of `argsList` on group `group` (-1: wherever this lands): they
 * are spawned urgently, so they start here and stay. Returns null at once if this host landed on
 * another group (the caller tries again), else the children's results.
 */
export const host = task('host', function* (group: number, child: string, argsList: unknown[][]) {
  if (group >= 0 && groupIndex() !== group) return null;
  const ref = children[child];
  if (ref === undefined) throw new Error(`no child task ${child}`);
  const ids: TaskId<unknown>[] = [];
  for (const args of argsList) {
    ids.push((yield* spawnUrgent(ref, ...(args as never[]))) as TaskId<unknown>);
  }
  const results: unknown[] = [];
  for (const id of ids) results.push(yield* joinTask(id));
  return results;
});

// ---- notification ----------------------------------------------------------------------------

/**
 * The notification script in a fiber, driven by the main thread: after each step the fiber
 * reports its stats on `ctl`, and the main thread sends what the next step needs.
 */
export const notifyScript = task('notifyScript', function* (channel: string, ctl: string) {
  const sub = join(channel);
  const received: unknown[] = [];
  const report = (step: string) => send(ctl, JSON.stringify({ step, ...sub.stats() }));
  const take = () => {
    const message = sub.recv();
    if (message !== null) received.push(message.data);
    return message;
  };
  yield* report('joined');
  // The main thread sends 3: one notification, however they land.
  yield* sub.ready();
  yield* waitFor(() => sub.stats().queued === 3);
  take();
  yield* report('took one of three');
  // The main thread sends 2 more: the queue never went empty, no notification.
  yield* waitFor(() => sub.stats().queued === 4);
  yield* report('five sent');
  while (take() !== null);
  yield* report('drained');
  // The main thread sends 1: recv() returned null, so this is the second notification.
  yield* sub.ready();
  take();
  yield* report('woken');
  // The main thread sends 1: the queue was emptied without a null recv(), so no notification.
  yield* waitFor(() => sub.stats().queued === 1);
  yield* report('not re-armed');
  take();
  if (take() !== null) throw new Error('expected an empty queue');
  yield* report('re-armed');
  // The main thread sends 1 while this fiber is not waiting: the notification is pending, and
  // ready() continues at once.
  yield* waitFor(() => sub.stats().queued === 1);
  yield* sub.ready();
  take();
  yield* report('pending');
  return received;
});

// ---- overflow --------------------------------------------------------------------------------

/**
 * Joins `channel`, says ready, and receives nothing until shared word `gate` is 1 (and, with `expect`,
 * until its stats show that many queued and dropped, which it tells by setting word `gate + 1`);
 * then receives up to the message "end" (or,
 * when `untilEnd` is false, until recv() returns null), sleeping 1 ms every `pace` messages.
 * Returns the bodies it got, its stats while held, and its stats at the end.
 */
export const gated = task(
  'gated',
  function* (
    channel: string,
    readyChannel: string,
    gate: number,
    untilEnd: boolean,
    pace: number,
    expect?: { queued: number; dropped: number },
  ) {
    const sub = join(channel);
    yield* send(readyChannel, String(groupIndex()));
    const words = sharedWords();
    if (expect !== undefined) {
      yield* waitFor(() => {
        const stats = sub.stats();
        return stats.queued === expect.queued && stats.dropped === expect.dropped;
      });
      Atomics.store(words, gate + 1, 1);
    }
    const held = sub.stats();
    yield* waitFor(() => Atomics.load(words, gate) === 1);
    const got: string[] = [];
    for (;;) {
      const message = untilEnd ? yield* sub.next() : sub.recv();
      if (message === null) break;
      const text = message.data as string;
      if (text === 'end') break;
      got.push(text);
      if (pace > 0 && got.length % pace === 0) yield* sleep(1);
    }
    return { group: groupIndex(), got, held, stats: sub.stats() };
  },
);

/** Sends "0".."count-1" then "end" on `channel`, counting the sends done in shared word `progress`. */
export const countingPublisher = task(
  'countingPublisher',
  function* (channel: string, count: number, progress: number) {
    const words = sharedWords();
    for (let i = 0; i < count; i++) {
      yield* send(channel, String(i));
      Atomics.store(words, progress, i + 1);
    }
    yield* send(channel, 'end');
    return groupIndex();
  },
);

/** Sends "from", "from + 1"... on `channel` until a send fails; returns how many went and the code. */
export const sendUntilFull = task('sendUntilFull', function* (channel: string, from: number) {
  let sent = 0;
  try {
    while (sent < 100_000) {
      yield* send(channel, String(from + sent));
      sent++;
    }
  } catch (error) {
    return { sent, code: codeOf(error), group: groupIndex() };
  }
  return { sent, code: 'none', group: groupIndex() };
});

// ---- clean-up --------------------------------------------------------------------------------

/**
 * Joins `channels`, says ready, waits until `hold` messages are queued, says "holding" (with its
 * stats), waits for shared word `gate` to be 1, then ends as `how` says: 'return', 'throw',
 * 'park' (waits in ready() forever, for cancel), 'leave' (leaves its first channel, says "left"
 * with its stats, waits for word `gate + 1`, returns), or 'exit' (its thread blocks on the gate —
 * its queue is no longer polled — then it exits the worker).
 */
export const holder = task(
  'holder',
  function* (
    channels: string[],
    readyChannel: string,
    hold: number,
    how: 'return' | 'throw' | 'park' | 'leave' | 'exit',
    gate: number,
  ) {
    const words = sharedWords();
    for (const channel of channels) join(channel);
    yield* send(readyChannel, JSON.stringify({ step: 'ready', group: groupIndex() }));
    yield* waitFor(() => subscriberStats().queued >= hold);
    yield* send(readyChannel, JSON.stringify({ step: 'holding', ...subscriberStats() }));
    if (how === 'exit') {
      Atomics.wait(words, gate, 0);
      process.exit(1);
    }
    yield* waitFor(() => Atomics.load(words, gate) === 1);
    if (how === 'throw') throw new Error('holder gives up');
    if (how === 'park') {
      join('silence');
      for (;;) yield* ready();
    }
    if (how === 'leave') {
      leave(channels[0]);
      yield* send(readyChannel, JSON.stringify({ step: 'left', ...subscriberStats() }));
      yield* waitFor(() => Atomics.load(words, gate + 1) === 1);
    }
    return subscriberStats();
  },
);

// ---- bad input -------------------------------------------------------------------------------

/**
 * Tries every bad call a fiber can make, between good sends on `good` (numbered from `from`);
 * returns the error code of each (or 'ok').
 */
export const badCalls = task('badCalls', function* (good: string, from: number, maxBytes: number) {
  const codes: Record<string, string> = {};
  let n = from;
  const goodSend = () => send(good, `good${n++}`);
  function* attempt(name: string, call: () => unknown) {
    try {
      const result = call();
      if (result !== null && typeof result === 'object' && Symbol.iterator in result) {
        yield* result as Generator<unknown, unknown, unknown>;
      }
      codes[name] = 'ok';
    } catch (error) {
      codes[name] = codeOf(error);
    }
    yield* goodSend();
  }
  yield* goodSend();
  // Before joining anything.
  yield* attempt('recv before join', () => recv());
  yield* attempt('next before join', () => next());
  yield* attempt('ready before join', () => ready());
  yield* attempt('leave before join', () => leave('never-joined'));
  yield* attempt('stats before join', () => subscriberStats());
  // Channel names.
  yield* attempt('join empty name', () => join(''));
  yield* attempt('join 256-byte name', () => join('n'.repeat(256)));
  yield* attempt('join 256-byte UTF-8 name', () => join('é'.repeat(128)));
  yield* attempt('join non-string name', () => join(42 as unknown as string));
  yield* attempt('send empty name', () => send('', 'x'));
  yield* attempt('send 256-byte name', () => send('n'.repeat(256), 'x'));
  // Bodies.
  yield* attempt('send number', () => send(good, 42 as unknown as string));
  yield* attempt('send null', () => send(good, null as unknown as string));
  yield* attempt('send object', () => send(good, {} as unknown as string));
  yield* attempt('send Int32Array', () => send(good, new Int32Array(2) as unknown as string));
  yield* attempt('send too large text', () => send(good, 'x'.repeat(maxBytes + 1)));
  yield* attempt('send too large UTF-8 text', () => send(good, 'é'.repeat(maxBytes / 2 + 1)));
  yield* attempt('send too large bytes', () => send(good, new Uint8Array(maxBytes + 1)));
  const tooLarge = IOBuf.from(new Uint8Array(maxBytes + 1), channelPool());
  yield* attempt('send too large iobuf', () => send(good, tooLarge));
  tooLarge.release();
  const released = IOBuf.from('gone', channelPool());
  released.release();
  yield* attempt('send released iobuf', () => send(good, released));
  // A subscriber that left everything.
  yield* attempt('join 255-byte name', () => join(`${'é'.repeat(127)}x`));
  yield* attempt('leave empty name', () => leave(''));
  yield* attempt('leave 255-byte name', () => leave(`${'é'.repeat(127)}x`));
  yield* attempt('recv after leaving all', () => recv());
  yield* attempt('next after leaving all', () => next());
  yield* attempt('ready after leaving all', () => ready());
  yield* goodSend();
  return { codes, sent: n - from };
});

/** Joins `channel`, reports whether it could ("ok" or the error code), stays until word `gate` is 1. */
export const tryJoin = task(
  'tryJoin',
  function* (channel: string, readyChannel: string, gate: number) {
    let code = 'ok';
    try {
      join(channel);
    } catch (error) {
      code = codeOf(error);
    }
    yield* send(readyChannel, code);
    const words = sharedWords();
    yield* waitFor(() => Atomics.load(words, gate) === 1);
    return code;
  },
);

// ---- stress ----------------------------------------------------------------------------------

/** A subscriber that keeps joining and leaving random channels until a message on `stop`. */
export interface ChurnSpec {
  channels: string[];
  modes: Mode[];
  stop: string;
  ready: string;
  seed: number;
}

export const churn = task('churn', function* (spec: ChurnSpec) {
  const sub = join(spec.stop);
  yield* send(spec.ready, String(groupIndex()));
  // Subscribers that come and go see increasing sequences, with gaps.
  const checker = new SequenceChecker(spec.channels, spec.modes, true);
  let seed = spec.seed;
  const random = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  let rounds = 0;
  let received = 0;
  for (let stop = false; !stop; rounds++) {
    const subset = spec.channels.filter(() => random() < 0.5);
    if (subset.length === 0) subset.push(spec.channels[rounds % spec.channels.length]);
    for (const channel of subset) sub.join(channel);
    const want = 1 + Math.floor(random() * 300);
    for (let i = 0; i < want; i++) {
      const message = yield* sub.next();
      if (message.channel === spec.stop) {
        stop = true;
        break;
      }
      checker.take(message.channel, message.data);
      received++;
    }
    for (const channel of subset) sub.leave(channel);
    if (random() < 0.3) yield* sleep(1);
    else yield* yieldNow();
  }
  return { group: groupIndex(), rounds, received, errors: checker.errors };
});

/**
 * A short-lived subscriber: joins some channels, receives up to `want` messages (polling; it
 * stops early once shared word `done` is 1 and its queue is empty), and ends — leaving them.
 */
export const sipper = task('sipper', function* (spec: ChurnSpec, want: number, done: number) {
  const words = sharedWords();
  const subset = spec.channels.filter((_, i) => (spec.seed >> i) & 1);
  if (subset.length === 0) subset.push(spec.channels[spec.seed % spec.channels.length]);
  const checker = new SequenceChecker(spec.channels, spec.modes, true);
  let sub: FiberSubscriber | undefined;
  for (const channel of subset) sub = join(channel);
  let received = 0;
  while (received < want) {
    const message = (sub as FiberSubscriber).recv();
    if (message === null) {
      if (Atomics.load(words, done) === 1) break;
      yield* sleep(1);
      continue;
    }
    checker.take(message.channel, message.data);
    received++;
  }
  return { group: groupIndex(), received, errors: checker.errors };
});

// Every task here can be placed with `host`.
for (const ref of [
  verify,
  publishSeq,
  sendSamples,
  receiveSamples,
  notifyScript,
  gated,
  countingPublisher,
  sendUntilFull,
  holder,
  badCalls,
  tryJoin,
  churn,
  sipper,
]) {
  children[ref.name] = ref;
}
