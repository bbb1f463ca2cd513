/**
 * The subscribing side of bench/channels.ts for weft: a task module. `hostSubscribers(g)` runs on
 * one worker and starts the subscribers of setup `g` there as fibers (spawnUrgent keeps them on
 * its group); each joins the channel, and once all have joined the group counts itself READY.
 * A subscriber receives with `recv()` until null, then parks in `ready()`, and counts, checks and
 * times each message with the same handler as the peers' subscribers (bench/peers/channels.ts).
 *
 * `route` is the seed's master thread, for the routing comparison: it receives every message of
 * one channel and sends it on to the subscribers' channel.
 */
import { join as joinChannel, send } from '@weft/channels';
import { groupIndex, installed, join, spawnUrgent, task } from '@weft/scheduler';
import { deliveryCounter, reportReady, type SubscriberSetup } from '../peers/channels.ts';

/** The name the bench installs the run's setups under. */
export const SETUPS = 'bench.channels.setups';
/** The name of the placement words: one per group, set by the host that took the group. */
export const CLAIMS = 'bench.channels.claims';

/** What a group's host reports: where it ran, or that its group was taken (start it again). */
export interface Hosted {
  group: number;
  placed: boolean;
}

const subscribe = task('subscribe', function* (setupIndex: number, slot: number, channel: string) {
  const setup = (installed<SubscriberSetup[]>(SETUPS) as SubscriberSetup[])[setupIndex];
  const subscriber = joinChannel(channel);
  let failure: string | undefined;
  const deliver = deliveryCounter(setup, setup.subscribers[slot], (text) => {
    failure = text;
  });
  joined(setupIndex, setup);
  for (let received = 0; received < setup.messages; ) {
    const message = subscriber.recv();
    if (message === null) {
      yield* subscriber.ready();
      continue;
    }
    if (!deliver(message.data as Uint8Array)) throw new Error(failure);
    received++;
  }
});

// Per setup, the subscribers that have joined on this thread.
const joinedCount = new Map<number, number>();

function joined(setupIndex: number, setup: SubscriberSetup): void {
  const count = (joinedCount.get(setupIndex) ?? 0) + 1;
  joinedCount.set(setupIndex, count);
  if (count === setup.subscribers.length) reportReady(setup);
}

/**
 * Hosts setup `setupIndex`'s subscribers on the group it runs on — unless another host took that
 * group already (the scheduler hands new tasks to a spinning group first, so two hosts spawned
 * together often start on one): it then returns `placed: false` and the bench starts it again.
 */
export const hostSubscribers = task(
  'hostSubscribers',
  function* (setupIndex: number, channel: string) {
    const setup = (installed<SubscriberSetup[]>(SETUPS) as SubscriberSetup[])[setupIndex];
    const claims = installed<Int32Array>(CLAIMS) as Int32Array;
    if (Atomics.compareExchange(claims, groupIndex(), 0, setupIndex + 1) !== 0) {
      return { group: groupIndex(), placed: false } satisfies Hosted;
    }
    joinedCount.delete(setupIndex);
    const ids = [];
    for (let slot = 0; slot < setup.subscribers.length; slot++) {
      ids.push(yield* spawnUrgent(subscribe, setupIndex, slot, channel));
    }
    for (const id of ids) yield* join(id);
    return { group: groupIndex(), placed: true } satisfies Hosted;
  },
);

export const route = task('route', function* (from: string, to: string, count: number) {
  Atomics.store(installed<Int32Array>(CLAIMS) as Int32Array, groupIndex(), -1); // its group
  const subscriber = joinChannel(from);
  for (let routed = 0; routed < count; ) {
    const message = subscriber.recv();
    if (message === null) {
      yield* subscriber.ready();
      continue;
    }
    yield* send(to, message.data as Uint8Array);
    routed++;
  }
  return groupIndex();
});
