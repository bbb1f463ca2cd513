/**
 * @weft/channels — pub/sub between fibers on every thread, and the threads themselves (after the
 * uWSGI channels design).
 *
 * Start a hub on a scheduler with `Channels.start(scheduler)`. Fibers call `join`, `leave`,
 * `send`, `recv`, `next` and `ready`; the starting thread subscribes with `channels.subscribe()`
 * and sends with `channels.send`. Bodies are written once into IOBuf blocks and shared by every
 * delivery.
 */

export type { Message } from './channel-endpoint.ts';
export type { OverflowPolicy } from './channel-table.ts';
export {
  type ChannelSettings,
  Channels,
  type ChannelsOptions,
  type ChannelsStats,
  type SendOptions,
} from './channels.ts';
export {
  channelPool,
  FiberSubscriber,
  join,
  leave,
  next,
  ready,
  recv,
  send,
  subscriberStats,
} from './fiber-api.ts';
export { Subscriber } from './subscriber.ts';
export type { SubscriberStats } from './subscriber-core.ts';
