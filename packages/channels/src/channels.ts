/**
 * Channels: a scheduler's channel hub, seen from the thread that started it (usually the main
 * thread) — sending, subscribing, configuring, statistics, and the clean-up after a dead worker.
 *
 * `Channels.start(scheduler)` lays out the hub and installs it on the scheduler, so that every
 * worker (and every worker that later replaces a dead one) finds it; fibers then use the module
 * functions of fiber-api.ts. This thread is the hub's last endpoint: its subscribers are
 * `Subscriber` objects, fed by a pump that polls the endpoint's queue and parks in
 * `Atomics.waitAsync` on the endpoint's lot when it is empty.
 *
 * A worker that dies is the seed's open question ("What if harakiri kills worker?"): the
 * scheduler's respawn path calls `#recover` before the replacement starts. It clears the dead
 * thread's subscription rows, lets go of every message still in its queue and every message it
 * held (the per-thread `held` bits in the message table), and gives the credits back, so the
 * blocks return to the pool and the new group starts clean.
 */
import { type IOBuf, IOBufPool } from '@weft/iobuf';
import { Notifier, type Scheduler } from '@weft/scheduler';
import { ErrorCode, requireInteger, WeftError, WeftRangeError, WeftTypeError } from '@weft/shm';
import { ChannelEndpoint, type Message } from './channel-endpoint.ts';
import { type OverflowPolicy, policyName, policyNumber } from './channel-table.ts';
import { EndpointWord, FULL, fullError, Hub, type HubSizes } from './hub.ts';
import { Subscriber } from './subscriber.ts';

/** The name the hub is installed under on its scheduler. */
export const INSTALL_NAME = 'weft.channels';

/** Options of `Channels.start`. */
export interface ChannelsOptions {
  /** Channel names the hub can hold (default 4096; names are never removed). */
  maxChannels?: number;
  /** Subscribers per thread (default 256). */
  maxSubscribers?: number;
  /** Messages each subscriber's queue holds before its channel's policy applies (default 1024). */
  queueCapacity?: number;
  /** Messages each thread's incoming queue holds (a power of two, default 4096). */
  ringCapacity?: number;
  /** Messages in flight at once over the whole hub (default 65,536). */
  maxMessages?: number;
  /** The largest message body in bytes (default 1 MiB). */
  maxMessageBytes?: number;
  /** The IOBuf pool the bodies are written to (default: a new pool). */
  pool?: IOBufPool;
  /**
   * How long a worker with subscribers keeps polling for messages when it runs out of work,
   * before it parks, in microseconds (default 200). A message that finds it polling arrives in
   * microseconds; one that finds it parked pays a futex wake-up (~30 µs here). 0: the
   * scheduler's usual ~20 µs spin.
   */
  pollMicros?: number;
}

/** Options of a send from this thread. */
export interface SendOptions {
  /** Carried to receivers as `message.origin` (the Redis bridge marks what it injects); 0–2^23. */
  origin?: number;
}

/** A channel's settings. */
export interface ChannelSettings {
  /** What to do when a subscriber's queue is full (see the README). */
  overflow: OverflowPolicy;
}

/** Statistics of a hub. */
export interface ChannelsStats {
  channels: { name: string; subscribers: number; dropped: number; overflow: string }[];
  /** Per thread (endpoint): groups first, then this thread. */
  threads: { delivered: number; dropped: number; queued: number }[];
  /** Message slots in use (queued somewhere, or being received). */
  messagesInFlight: number;
}

const DEFAULTS = {
  maxChannels: 4096,
  maxSubscribers: 256,
  queueCapacity: 1024,
  ringCapacity: 4096,
  maxMessages: 65_536,
  maxMessageBytes: 1024 * 1024,
  pollMicros: 200,
} as const;

/** The origin a send carries: 0 (this process) unless `options` say. */
function originOf(options: SendOptions | undefined): number {
  if (options?.origin === undefined) return 0;
  requireInteger(options.origin, 0, 2 ** 23 - 1, 'send origin');
  return options.origin;
}

/** Productive polls between turns of the event loop, for the pump. */
const POLLS_PER_TURN = 32;

export class Channels {
  readonly #hub: Hub;
  readonly #endpoint: ChannelEndpoint;
  #pumping = false;
  // Readers awaiting `ready` here: while there are some, the pump keeps the process alive.
  #waiting = 0;
  #closed = false;

  /** Starts a hub on `scheduler`; its workers can use channels once this resolves. */
  static async start(scheduler: Scheduler, options: ChannelsOptions = {}): Promise<Channels> {
    const sizes: HubSizes = {
      groups: scheduler.groups,
      maxChannels: options.maxChannels ?? DEFAULTS.maxChannels,
      maxSubscribers: options.maxSubscribers ?? DEFAULTS.maxSubscribers,
      queueCapacity: options.queueCapacity ?? DEFAULTS.queueCapacity,
      ringCapacity: options.ringCapacity ?? DEFAULTS.ringCapacity,
      maxMessages: options.maxMessages ?? DEFAULTS.maxMessages,
      maxMessageBytes: options.maxMessageBytes ?? DEFAULTS.maxMessageBytes,
      pollMicros: options.pollMicros ?? DEFAULTS.pollMicros,
    };
    requireInteger(sizes.maxChannels, 1, 2 ** 20, 'Channels maxChannels');
    requireInteger(sizes.maxSubscribers, 1, 2 ** 16, 'Channels maxSubscribers');
    requireInteger(sizes.queueCapacity, 1, 2 ** 24, 'Channels queueCapacity');
    requireInteger(sizes.ringCapacity, 2, 2 ** 24, 'Channels ringCapacity');
    if ((sizes.ringCapacity & (sizes.ringCapacity - 1)) !== 0) {
      throw new WeftRangeError(
        ErrorCode.OUT_OF_RANGE,
        `Channels ringCapacity must be a power of two, got ${sizes.ringCapacity}`,
      );
    }
    requireInteger(sizes.maxMessages, 1, 2 ** 24, 'Channels maxMessages');
    requireInteger(sizes.maxMessageBytes, 0, 2 ** 30, 'Channels maxMessageBytes');
    requireInteger(sizes.pollMicros, 0, 1_000_000, 'Channels pollMicros');
    if (options.pool !== undefined && !(options.pool instanceof IOBufPool)) {
      throw new WeftTypeError(ErrorCode.INVALID_ARGUMENT, 'Channels `pool` must be an IOBufPool');
    }
    const pool = options.pool ?? IOBufPool.create();
    const notifiers = Array.from({ length: sizes.groups + 1 }, () => Notifier.create(scheduler).id);
    const handle = Hub.create(sizes, pool, scheduler.groupLots, notifiers);
    await scheduler.install(INSTALL_NAME, handle);
    return new Channels(
      scheduler,
      Hub.attach(handle, (id) => Notifier.attach(id, scheduler)),
    );
  }

  private constructor(scheduler: Scheduler, hub: Hub) {
    this.#hub = hub;
    this.#endpoint = new ChannelEndpoint(hub, hub.sizes.groups);
    // For the hub's life, not this object's: fibers go on using the hub after close().
    scheduler.onWorkerDeath((group) => this.#recover(group));
  }

  /** The pool message bodies live in: IOBufs of this pool are sent without a copy. */
  get pool(): IOBufPool {
    return this.#hub.pool;
  }

  /** A new subscriber on this thread; E_CAPACITY past `maxSubscribers`. */
  subscribe(...channels: string[]): Subscriber {
    this.#live();
    const subscriber = new Subscriber(this.#endpoint.open(), this);
    try {
      for (const channel of channels) subscriber.join(channel);
    } catch (error) {
      subscriber.close(); // a bad name: no half-made subscriber is left holding a slot
      throw error;
    }
    return subscriber;
  }

  /**
   * Sends `message` (a string, Uint8Array or IOBuf) to every subscriber of `channel`, on every
   * thread; returns how many threads it went to. A synchronous send cannot wait: if a queue is
   * full and the channel's policy is `block` or `error` (the default here), it throws E_FULL and
   * sends nothing; use `sendAsync` to wait for room.
   */
  send(channel: string, message: string | Uint8Array | IOBuf, options?: SendOptions): number {
    const sent = this.#publish(channel, message, options);
    if (sent === FULL) throw fullError(channel, this.overflowOf(channel));
    return sent;
  }

  /** As `send`, but returns false instead of throwing when a queue is full (nothing sent). */
  trySend(channel: string, message: string | Uint8Array | IOBuf, options?: SendOptions): boolean {
    return this.#publish(channel, message, options) !== FULL;
  }

  /**
   * As `send`, but when a queue is full it waits for room (the `block` policy, whatever the
   * default), unless the channel's policy is explicitly `error` (E_FULL).
   */
  async sendAsync(
    channel: string,
    message: string | Uint8Array | IOBuf,
    options?: SendOptions,
  ): Promise<number> {
    this.#live();
    return this.#hub.sendWaiting(channel, message, originOf(options));
  }

  /** Sets `channel`'s overflow policy (for every thread; the channel is added if new). */
  configure(channel: string, settings: ChannelSettings): void {
    this.#live();
    if (typeof settings !== 'object' || settings === null) {
      throw new WeftTypeError(ErrorCode.INVALID_ARGUMENT, 'configure needs { overflow }');
    }
    const policy = policyNumber(settings.overflow);
    this.#hub.channels.setPolicy(this.#hub.channels.intern(channel), policy);
  }

  /** `channel`'s overflow policy for a send from this thread. */
  overflowOf(channel: string): OverflowPolicy {
    const id = this.#hub.channels.lookup(channel);
    return policyName(id === -1 ? 0 : this.#hub.channels.policy(id), false);
  }

  stats(): ChannelsStats {
    const hub = this.#hub;
    const { channels, subscriptions, lines } = hub;
    return {
      channels: channels.ids().map((id) => ({
        name: channels.nameOf(id),
        subscribers: subscriptions.count(id),
        dropped: channels.dropped(id),
        overflow: policyName(channels.policy(id), false),
      })),
      threads: Array.from({ length: hub.endpoints }, (_, endpoint) => {
        const line = hub.ownLine(endpoint);
        return {
          delivered: lines[line + EndpointWord.DELIVERED],
          dropped: lines[line + EndpointWord.DROPPED] + hub.droppedAtQueue(endpoint),
          queued: hub.inFlight(endpoint),
        };
      }),
      messagesInFlight: hub.messages.slots.countInUse(),
    };
  }

  /**
   * Closes this thread's side: its subscribers leave everything. Fibers' subscriptions end with
   * their fibers; the hub's memory goes with the scheduler.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#endpoint.closeAll();
    this.#hub.lotOf(this.#endpoint.index).signal();
  }

  // ---- for Subscriber ----

  /** Makes sure the pump runs (a subscriber joined); `waiting`: a reader awaits `ready`. */
  wakePump(waiting: number): void {
    this.#waiting += waiting;
    if (!this.#pumping) void this.#pump();
    // The pump keeps the process alive only while someone awaits: on a change between none and
    // some, it parks again (or ends, if no subscriber is left).
    else if ((waiting > 0 && this.#waiting === 1) || (waiting < 0 && this.#waiting === 0)) {
      this.#hub.lotOf(this.#endpoint.index).signal();
    }
  }

  // Polls this thread's queue while it has subscribers or messages in flight to it.
  async #pump(): Promise<void> {
    this.#pumping = true;
    const endpoint = this.#endpoint;
    const lot = this.#hub.lotOf(endpoint.index);
    let polls = 0;
    try {
      while (endpoint.subscribers > 0 || this.#hub.inFlight(endpoint.index) > 0) {
        const seen = lot.state();
        if (endpoint.poll()) {
          if (++polls % POLLS_PER_TURN === 0) await new Promise(setImmediate);
          else await null;
          continue;
        }
        if (endpoint.pending()) {
          await null; // a send took its credit and is about to push
          continue;
        }
        if (this.#closed && endpoint.subscribers === 0) break;
        await lot.waitAsync(seen, undefined, { ref: this.#waiting > 0 });
      }
    } finally {
      this.#pumping = false;
    }
  }

  #publish(channel: string, message: unknown, options: SendOptions | undefined): number {
    this.#live();
    return this.#hub.publish(channel, message, originOf(options));
  }

  #live(): void {
    if (this.#closed) throw new WeftError(ErrorCode.CLOSED, 'this Channels object is closed');
  }

  // A worker died: clear what its thread held (see the module comment).
  #recover(group: number): void {
    const hub = this.#hub;
    hub.subscriptions.clearEndpoint(group);
    let drained = 0;
    for (let slot = hub.rings[group].pop(); slot !== undefined; slot = hub.rings[group].pop()) {
      hub.messages.unref(slot);
      drained++;
    }
    hub.messages.letGoAll(group);
    const line = hub.ownLine(group);
    const unsettled = hub.lines[line + EndpointWord.UNSETTLED];
    hub.lines[line + EndpointWord.UNSETTLED] = 0;
    hub.settle(group, drained + unsettled);
  }
}

export type { Message };
