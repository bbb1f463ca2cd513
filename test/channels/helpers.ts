// Starting a scheduler with a channel hub for a test (both closed when it ends), placing tasks on
// a group, and waiting for subscribers and conditions without timing assumptions.

import { Channels, type ChannelsOptions, type Message, type Subscriber } from '@weft/channels';
import { IOBuf } from '@weft/iobuf';
import { Scheduler, type SchedulerOptions, type TaskArgs, type TaskRef } from '@weft/scheduler';
import type { ExecutionContext } from 'ava';
import { host, type PublishReport, type PublishSpec } from './tasks/checks.ts';
import { type CheckReport, END, encode, type Mode, SequenceChecker } from './tasks/codec.ts';

export const taskModule = (file: string) => new URL(`./tasks/${file}`, import.meta.url);

/** Shared words per hub (see `sharedWords` in tasks/checks.ts). */
const WORDS = 64;

/**
 * A scheduler (over the channels task modules) and a hub on it, closed when the test ends; with
 * `words`, shared with every worker for gates and counters.
 */
export async function startHub(
  t: ExecutionContext,
  options: SchedulerOptions,
  channelsOptions?: ChannelsOptions,
): Promise<{ scheduler: Scheduler; channels: Channels; words: Int32Array }> {
  const words = new Int32Array(new SharedArrayBuffer(4 * WORDS));
  const scheduler = await Scheduler.start({
    tasks: taskModule('checks.ts'),
    data: { words },
    ...options,
  });
  let channels: Channels | undefined;
  t.teardown(async () => {
    channels?.close();
    await scheduler.close({ drain: false, timeoutMs: 5000 });
  });
  channels = await Channels.start(scheduler, channelsOptions);
  return { scheduler, channels, words };
}

/** The next `count` messages of `sub` (waiting on `ready` when its queue is empty). */
export async function take(sub: Subscriber, count: number): Promise<Message[]> {
  const got: Message[] = [];
  while (got.length < count) {
    const message = sub.recv();
    if (message !== null) got.push(message);
    else await sub.ready;
  }
  return got;
}

/** The bodies of the next `count` messages of `sub`, as text. */
export async function takeText(sub: Subscriber, count: number): Promise<string[]> {
  return (await take(sub, count)).map((message) => message.data as string);
}

/**
 * Waits until `done()` (checked every millisecond); fails with `what` after `limitMs` — a guard
 * against a hang, far beyond what the condition needs, not a timing check.
 */
export async function waitUntil(done: () => boolean, what: string, limitMs = 60_000) {
  const deadline = Date.now() + limitMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Lets the event loop turn for `ms`: the chance for something wrong to happen, never a check. */
export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `child` once per entry of `argsList` on group `group` (-1: any), through the `host` task,
 * which starts them there with spawnUrgent (fibers stay on the group they start on). Hosts that
 * land on another group return null and are tried again (after a dead worker's replacement runs).
 */
export async function runOn<T extends TaskRef>(
  scheduler: Scheduler,
  group: number,
  child: T,
  argsList: TaskArgs<T>[],
): Promise<unknown[]> {
  for (let attempt = 0; attempt < 1000; attempt++) {
    // (A group whose worker died gets no tasks until its replacement runs.)
    if (group >= 0) await waitUntil(() => scheduler.stats().groups[group].alive, `group ${group}`);
    const results = await scheduler.run(host, group, child.name, argsList as unknown[][]);
    if (results !== null) return results;
  }
  throw new Error(`could not place a task on group ${group}`);
}

/** A checked subscriber on this thread, as the `verify` task is in fibers. */
export async function verifyHere(
  sub: Subscriber,
  channels: string[],
  modes: Mode[],
): Promise<CheckReport> {
  const checker = new SequenceChecker(channels, modes);
  while (!checker.done) {
    const message = sub.recv();
    if (message === null) await sub.ready;
    else checker.take(message.channel, message.data);
  }
  const stats = sub.stats();
  return {
    group: -1,
    counts: checker.counts,
    errors: checker.errors,
    notifications: stats.notifications,
    dropped: stats.dropped,
  };
}

/** The main thread as a numbered publisher (sendAsync: it waits for room as fibers do). */
export async function publishHere(channels: Channels, spec: PublishSpec): Promise<PublishReport> {
  let minThreads = Number.POSITIVE_INFINITY;
  let maxThreads = 0;
  for (let seq = 0; seq <= spec.count; seq++) {
    for (const channel of spec.channels) {
      const body = encode(spec.mode, spec.sender, seq === spec.count ? END : seq, channels.pool);
      const threads = await channels.sendAsync(channel, body);
      if (body instanceof IOBuf) body.release();
      minThreads = Math.min(minThreads, threads);
      maxThreads = Math.max(maxThreads, threads);
    }
  }
  return { group: -1, minThreads, maxThreads };
}

/** Opens gate `index` of the shared words (a task waiting on it goes on). */
export function openGate(words: Int32Array, index: number): void {
  Atomics.store(words, index, 1);
  Atomics.notify(words, index);
}
