// Tasks for the channels tests: subscribers that collect what they receive, and publishers.

import { join, leave, next, ready, recv, send, subscriberStats } from '@weft/channels';
import { groupIndex, sleep, task } from '@weft/scheduler';

/** What a subscriber reports: each message as "channel:data", and where it ran. */
export interface Collected {
  group: number;
  received: string[];
  notifications: number;
}

function text(data: unknown): string {
  return typeof data === 'string' ? data : Buffer.from(data as Uint8Array).toString();
}

/** Joins `channels`, signals readiness by sending on `readyChannel`, then receives `count` messages with next(). */
export const collect = task(
  'collect',
  function* (channels: string[], readyChannel: string, count: number) {
    for (const channel of channels) join(channel);
    yield* send(readyChannel, String(groupIndex()));
    const received: string[] = [];
    while (received.length < count) {
      const message = yield* next();
      received.push(`${message.channel}:${text(message.data)}`);
    }
    return { group: groupIndex(), received, notifications: subscriberStats().notifications };
  },
);

/** Sends `count` messages "<prefix><i>" on `channel`. */
export const publish = task('publish', function* (channel: string, prefix: string, count: number) {
  for (let i = 0; i < count; i++) yield* send(channel, `${prefix}${i}`);
  return count;
});

/** Joins, reports ready, then waits on ready() and drains with recv() until `count` arrive. */
export const drainOnReady = task(
  'drainOnReady',
  function* (channel: string, readyChannel: string, count: number) {
    join(channel);
    yield* send(readyChannel, 'ok');
    let got = 0;
    while (got < count) {
      yield* ready();
      while (recv() !== null) got++;
    }
    return subscriberStats();
  },
);

/** Joins and then sleeps without receiving (its queue fills), leaves after `ms`. */
export const sluggish = task(
  'sluggish',
  function* (channel: string, readyChannel: string, ms: number) {
    join(channel);
    yield* send(readyChannel, 'ok');
    yield* sleep(ms);
    const stats = subscriberStats();
    leave(channel);
    return stats;
  },
);
