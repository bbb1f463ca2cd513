/**
 * Channels inside fibers: `join`, `leave`, `send`, `recv`, `next` and `ready` as module
 * functions, acting for the calling fiber.
 *
 * Each fiber that joins a channel gets a subscriber of its own on its group's endpoint (created
 * at its first `join`), which it leaves entirely when it ends, however it ends (`atFiberEnd`):
 * the seed's "when a core exits from a request it has to be unsubscribed from all of the
 * channels". The group's endpoint is made on the first use of channels on that thread, from the
 * hub its scheduler installed (`Channels.start`), and added to the group's loop as a source.
 *
 * Waiting parks the fiber, never the thread: `next()` and `ready()` park until a notification,
 * and a `send` to a full queue of a `block` channel parks until the receiving thread makes room.
 */
import type { IOBuf, IOBufPool } from '@weft/iobuf';
import {
  addGroupSource,
  atFiberEnd,
  type Effect,
  groupIndex,
  installed,
  Notifier,
  Operation,
  park,
  self,
} from '@weft/scheduler';
import { ErrorCode, WeftError } from '@weft/shm';
import { ChannelEndpoint, type Message } from './channel-endpoint.ts';
import { INSTALL_NAME } from './channels.ts';
import { Hub, type HubHandle } from './hub.ts';
import type { SubscriberCore, SubscriberStats } from './subscriber-core.ts';

// This thread's endpoints, by hub and group, and its fibers' subscribers, by endpoint and task.
const endpoints = new WeakMap<SharedArrayBuffer, ChannelEndpoint[]>();
const fiberSubscribers = new WeakMap<ChannelEndpoint, Map<number, FiberSubscriber>>();

// The calling fiber's group's endpoint (made on first use).
function endpointHere(what: string): ChannelEndpoint {
  const handle = installed<HubHandle>(INSTALL_NAME);
  if (handle === undefined) {
    throw new WeftError(
      ErrorCode.CLOSED,
      `${what}: this task's scheduler has no channels; start them with Channels.start(scheduler)`,
    );
  }
  let list = endpoints.get(handle.buffer);
  if (list === undefined) {
    list = [];
    endpoints.set(handle.buffer, list);
  }
  const index = groupIndex();
  let endpoint = list[index];
  if (endpoint === undefined) {
    endpoint = new ChannelEndpoint(
      Hub.attach(handle, (id) => Notifier.attach(id)),
      index,
    );
    list[index] = endpoint;
    fiberSubscribers.set(endpoint, new Map());
    addGroupSource(endpoint);
  }
  return endpoint;
}

/**
 * A fiber's subscriber: what `join` returns. The module functions (`recv()`, `next()`...) act on
 * the calling fiber's subscriber too; holding this object saves finding it on every call.
 */
export class FiberSubscriber {
  readonly #core: SubscriberCore;

  constructor(core: SubscriberCore) {
    this.#core = core;
  }

  /** Joins `channel` too (idempotent). */
  join(channel: string): this {
    this.#core.join(channel);
    return this;
  }

  /** Leaves `channel` (idempotent); drops its messages queued here. */
  leave(channel: string): this {
    this.#core.leave(channel);
    return this;
  }

  /** The oldest queued message, or null (which re-arms `ready`); never waits. */
  recv(): Message | null {
    return this.#core.recv();
  }

  /**
   * Parks until the next notification (edge-triggered: a message landed in the empty queue after
   * `recv()` returned null); continues at once if one is pending.
   */
  ready(): Effect<void> {
    const core = this.#core;
    return park<void>((waker) => core.whenNotified(() => waker.resume(undefined)));
  }

  /** The next message: at once if one is queued, else parks until one comes. */
  next(): Operation<Message> {
    return new Operation(() => this.#next());
  }

  *#next(): Generator<Effect<unknown>, Message, unknown> {
    for (;;) {
      const message = this.#core.recv();
      if (message !== null) return message;
      yield this.ready();
    }
  }

  stats(): SubscriberStats {
    return this.#core.stats();
  }
}

// The calling fiber's subscriber (made, and tied to the fiber's end, if `create`). The last one
// found is remembered: a fiber usually calls recv() many times in a row.
let lastId = -1;
let lastSubscriber: FiberSubscriber | undefined;

function subscriberHere(what: string, create: boolean): FiberSubscriber | undefined {
  const id = self();
  if (id === lastId) return lastSubscriber;
  const endpoint = endpointHere(what);
  const subscribers = fiberSubscribers.get(endpoint) as Map<number, FiberSubscriber>;
  let subscriber = subscribers.get(id);
  if (subscriber === undefined) {
    if (!create) return undefined;
    const core = endpoint.open();
    const made = new FiberSubscriber(core);
    subscribers.set(id, made);
    atFiberEnd(() => {
      subscribers.delete(id);
      if (lastId === id) lastId = -1;
      core.close();
    });
    subscriber = made;
  }
  lastId = id;
  lastSubscriber = subscriber;
  return subscriber;
}

function requireSubscriber(what: string): FiberSubscriber {
  const subscriber = subscriberHere(what, false);
  if (subscriber === undefined) {
    throw new WeftError(
      ErrorCode.NOT_SUBSCRIBED,
      `${what} in a fiber that has joined no channel: join(channel) first`,
    );
  }
  return subscriber;
}

/**
 * Subscribes the calling fiber to `channel` (idempotent) until it leaves or ends; returns the
 * fiber's subscriber.
 */
export function join(channel: string): FiberSubscriber {
  return (subscriberHere('join()', true) as FiberSubscriber).join(channel);
}

/** Unsubscribes the calling fiber from `channel` (idempotent); drops its queued messages. */
export function leave(channel: string): void {
  subscriberHere('leave()', false)?.leave(channel);
}

/**
 * The calling fiber's oldest queued message, or null (which re-arms `ready`); never waits.
 * E_NOT_SUBSCRIBED if the fiber has joined no channel.
 */
export function recv(): Message | null {
  return requireSubscriber('recv()').recv();
}

/** `ready()` of the calling fiber's subscriber. */
export function ready(): Effect<void> {
  return requireSubscriber('ready()').ready();
}

/** `next()` of the calling fiber's subscriber. */
export function next(): Operation<Message> {
  return requireSubscriber('next()').next();
}

/**
 * Sends `message` (a string, Uint8Array or IOBuf) to every subscriber of `channel` on every
 * thread; the result is how many threads it went to. When a queue is full: a `block` channel (the
 * default for fibers) parks the fiber until there is room, an `error` channel throws E_FULL, and
 * the drop policies drop. Use with `yield*` (or `await` in async tasks).
 */
export function send(channel: string, message: string | Uint8Array | IOBuf): Operation<number> {
  return endpointHere('send()').hub.sendWaiting(channel, message, 0);
}

/** The calling fiber's subscriber counters (zeros if it joined nothing). */
export function subscriberStats(): SubscriberStats {
  return (
    subscriberHere('subscriberStats()', false)?.stats() ?? {
      channels: 0,
      queued: 0,
      received: 0,
      notifications: 0,
      dropped: 0,
    }
  );
}

/** The pool message bodies live in (IOBufs of this pool are sent without a copy). */
export function channelPool(): IOBufPool {
  return endpointHere('channelPool()').hub.pool;
}
