/**
 * Hub: one thread's view of a channel hub's shared memory, and the send path.
 *
 * A hub is one SharedArrayBuffer (laid out here) plus an IOBuf pool for the bodies. Its threads
 * — the scheduler's groups 0 .. groups-1, then the thread that started the hub — are its
 * *endpoints*; each has a bounded queue of message slots (an MpscQueue: any sender pushes, the
 * endpoint's thread pops), a credit counter, and a lot to be woken on.
 *
 * A send (`publish`) is direct fan-out, the design the README measures against routing through a
 * master thread:
 *
 *   1. read the channel's thread bits (Subscriptions) — which threads have subscribers;
 *   2. take one credit on each of those threads' queues (IN_FLIGHT, one Atomics.add each); a
 *      queue without credit is full: the channel's policy decides (see below);
 *   3. write the header and the body once (MessageTable);
 *   4. push the slot into each queue, and wake a thread whose queue was empty (credit 0 before).
 *
 * Credits make the send all-or-nothing for the `block` and `error` policies: every credit is
 * taken before anything is pushed, so a send either reaches every thread or none. A thread
 * settles credits after delivering what it popped; `block` senders waiting for room count
 * themselves in SPACE_WAITERS and wait on the endpoint's Notifier, which is bumped when the queue
 * is down to half (by the thread settling, or by a failed send giving its credits back).
 */
import { type BlockPoolHandle, IOBuf, IOBufPool } from '@weft/iobuf';
import { type Effect, type GroupLots, type Notifier, Operation } from '@weft/scheduler';
import {
  CACHE_LINE,
  ErrorCode,
  MpscQueue,
  ParkingLot,
  SharedLayout,
  WeftError,
  WeftTypeError,
} from '@weft/shm';
import { ChannelTable, channelTableBytes, Policy } from './channel-table.ts';
import { epochOfHrtime, Kind, MessageTable } from './message-table.ts';
import { Subscriptions } from './subscriptions.ts';

/** The sizes a hub is laid out from (plain numbers: they travel to every worker). */
export interface HubSizes {
  /** The scheduler's groups; endpoint `groups` is the thread that started the hub. */
  groups: number;
  maxChannels: number;
  maxSubscribers: number;
  queueCapacity: number;
  ringCapacity: number;
  maxMessages: number;
  maxMessageBytes: number;
  /** How long a group with subscribers polls before it parks, in microseconds. */
  pollMicros: number;
}

/** What a thread needs to attach to a hub (structured-cloneable). */
export interface HubHandle {
  buffer: SharedArrayBuffer;
  sizes: HubSizes;
  pool: BlockPoolHandle;
  lots: GroupLots;
  /** Per endpoint, the id of the Notifier that `block` senders wait on for room. */
  notifiers: number[];
  /** The epoch on process.hrtime's clock, in ms (message timestamps, see MessageTable). */
  hrtimeEpoch: number;
}

/** Words of an endpoint's sender line (written by every sender). */
const IN_FLIGHT = 0;
const SPACE_WAITERS = 1;
/** Deliveries the drop policies dropped because the thread's whole queue was full. */
const QUEUE_DROPPED = 2;
/** Words of an endpoint's own line (written by its thread; read by stats and recovery). */
export const EndpointWord = {
  /** Slots popped from the queue and not settled yet. */
  UNSETTLED: 0,
  DELIVERED: 1,
  DROPPED: 2,
} as const;
const LINE_WORDS = CACHE_LINE / 4;

/** `publish` could not send: a queue was full (and the policy is block or error). */
export const FULL = -1;

/** E_FULL for a send on `channel` whose `policy` made it fail. */
export function fullError(channel: string, policy: string): WeftError {
  return new WeftError(
    ErrorCode.FULL,
    `channel "${channel}": a subscriber's queue is full (and so is its thread's); nothing was ` +
      `sent. The channel's overflow policy here is '${policy}': wait for room (yield* send in a ` +
      "fiber, sendAsync elsewhere), or configure 'drop-oldest' or 'drop-newest'",
  );
}

function plan(sizes: HubSizes) {
  const endpoints = sizes.groups + 1;
  const layout = new SharedLayout();
  return {
    layout,
    channels: layout.reserve(channelTableBytes(sizes.maxChannels)),
    subscriptions: layout.reserve(
      Subscriptions.bytesFor(sizes.maxChannels, endpoints, sizes.maxSubscribers),
    ),
    messages: layout.reserve(MessageTable.bytesFor(sizes.maxMessages, endpoints)),
    rings: Array.from({ length: endpoints }, () =>
      layout.reserve(MpscQueue.bytesFor(sizes.ringCapacity)),
    ),
    lines: layout.reserve(2 * CACHE_LINE * endpoints),
    lot: layout.reserve(ParkingLot.bytesFor()),
  };
}

// This thread's scratch IOBuf per pool, for text and bytes being sent: one per pool and thread
// for good (a pool view lives as long as its thread), so never collected unreleased.
const scratches = new Map<IOBufPool, IOBuf>();

function scratchFor(pool: IOBufPool): IOBuf {
  let scratch = scratches.get(pool);
  if (scratch === undefined) {
    scratch = new IOBuf(pool);
    scratches.set(pool, scratch);
  }
  return scratch;
}

// This thread's view of each hub, by buffer.
const views = new WeakMap<SharedArrayBuffer, Hub>();

export class Hub {
  readonly sizes: HubSizes;
  readonly endpoints: number;
  readonly channels: ChannelTable;
  readonly subscriptions: Subscriptions;
  readonly messages: MessageTable;
  readonly rings: MpscQueue[];
  readonly pool: IOBufPool;
  readonly lines: Int32Array;
  readonly #lots: ParkingLot[];
  readonly #notifiers: Notifier[];
  readonly #scratch: IOBuf;
  readonly #targets: Int32Array;
  readonly #wasEmpty: Uint8Array;
  /** After a FULL: the endpoint whose queue had no room. */
  #fullEndpoint = -1;

  /** Lays out a new hub; `notifiers` are the endpoints' Notifier ids (made by the caller). */
  static create(sizes: HubSizes, pool: IOBufPool, lots: GroupLots, notifiers: number[]): HubHandle {
    const at = plan(sizes);
    const buffer = at.layout.allocate();
    MessageTable.create(buffer, at.messages, sizes.maxMessages);
    for (const offset of at.rings) MpscQueue.create(buffer, offset, sizes.ringCapacity);
    ParkingLot.create(buffer, at.lot);
    return { buffer, sizes, pool: pool.handle, lots, notifiers, hrtimeEpoch: epochOfHrtime() };
  }

  /** This thread's view of the hub; `bindNotifier` makes a Notifier usable on this thread. */
  static attach(handle: HubHandle, bindNotifier: (id: number) => Notifier): Hub {
    let hub = views.get(handle.buffer);
    if (hub === undefined) {
      hub = new Hub(handle, bindNotifier);
      views.set(handle.buffer, hub);
    }
    return hub;
  }

  private constructor(handle: HubHandle, bindNotifier: (id: number) => Notifier) {
    const { buffer, sizes } = handle;
    const at = plan(sizes);
    this.sizes = sizes;
    this.endpoints = sizes.groups + 1;
    this.pool = IOBufPool.attach(handle.pool);
    this.channels = new ChannelTable(buffer, at.channels, sizes.maxChannels);
    this.subscriptions = new Subscriptions(
      buffer,
      at.subscriptions,
      sizes.maxChannels,
      this.endpoints,
      sizes.maxSubscribers,
    );
    this.messages = new MessageTable(
      buffer,
      at.messages,
      sizes.maxMessages,
      this.endpoints,
      this.pool,
      handle.hrtimeEpoch,
    );
    this.rings = at.rings.map((offset) => MpscQueue.attach(buffer, offset));
    this.lines = new Int32Array(buffer, at.lines, 2 * LINE_WORDS * this.endpoints);
    this.#lots = [
      ...handle.lots.offsets.map((offset) => ParkingLot.attach(handle.lots.buffer, offset)),
      ParkingLot.attach(buffer, at.lot),
    ];
    this.#notifiers = handle.notifiers.map(bindNotifier);
    this.#scratch = scratchFor(this.pool);
    this.#targets = new Int32Array(this.endpoints);
    this.#wasEmpty = new Uint8Array(this.endpoints);
  }

  /** The ParkingLot endpoint `endpoint`'s thread parks on. */
  lotOf(endpoint: number): ParkingLot {
    return this.#lots[endpoint];
  }

  /** Where endpoint `endpoint`'s own words are in `lines`. */
  ownLine(endpoint: number): number {
    return (2 * endpoint + 1) * LINE_WORDS;
  }

  // Where endpoint `endpoint`'s sender words are in `lines`.
  #senderLine(endpoint: number): number {
    return 2 * endpoint * LINE_WORDS;
  }

  /** Deliveries to `endpoint` dropped because its whole queue was full. */
  droppedAtQueue(endpoint: number): number {
    return Atomics.load(this.lines, this.#senderLine(endpoint) + QUEUE_DROPPED);
  }

  inFlight(endpoint: number): number {
    return Atomics.load(this.lines, this.#senderLine(endpoint) + IN_FLIGHT);
  }

  /**
   * The endpoint's thread settles `count` delivered slots. Waiting senders are woken once the
   * queue is down to half (not for every free cell: each wake-up is a futex call, and a sender
   * woken for one cell would fill it and wait again).
   */
  settle(endpoint: number, count: number): void {
    const before = Atomics.sub(this.lines, this.#senderLine(endpoint) + IN_FLIGHT, count);
    if (before - count <= this.sizes.ringCapacity >> 1) this.#wakeSpaceWaiters(endpoint);
  }

  // Wakes senders waiting for room at `endpoint`, if there are any. Called whenever the queue's
  // credit count may have gone to half or below: a settle, and a send that gave credits back.
  #wakeSpaceWaiters(endpoint: number): void {
    if (Atomics.load(this.lines, this.#senderLine(endpoint) + SPACE_WAITERS) > 0) {
      this.#notifiers[endpoint].notify();
    }
  }

  /**
   * `publish`, waiting for room when a queue is full (the `block` policy, whatever the default):
   * after a FULL it waits until that queue has drained to half, then tries again. A channel whose
   * policy is explicitly 'error' fails with E_FULL instead. `yield*` it in a fiber, `await` it
   * elsewhere.
   */
  sendWaiting(name: string, message: unknown, origin: number): Operation<number> {
    return new Operation(() => this.#sendWaiting(name, message, origin));
  }

  *#sendWaiting(
    name: string,
    message: unknown,
    origin: number,
  ): Generator<Effect<unknown>, number, unknown> {
    for (;;) {
      const sent = this.publish(name, message, origin);
      if (sent !== FULL) return sent;
      yield* this.#waitForRoom(name, this.#fullEndpoint);
    }
  }

  *#waitForRoom(channel: string, endpoint: number): Generator<Effect<unknown>, void, unknown> {
    if (this.channels.policy(this.channels.lookup(channel)) === Policy.ERROR) {
      throw fullError(channel, 'error');
    }
    const notifier = this.#notifiers[endpoint];
    const at = this.#senderLine(endpoint);
    Atomics.add(this.lines, at + SPACE_WAITERS, 1);
    try {
      const seen = notifier.sequence;
      // Count first, then look: a settle that crosses half after the look sees the count.
      if (this.inFlight(endpoint) > this.sizes.ringCapacity >> 1) yield* notifier.wait(seen);
    } finally {
      Atomics.sub(this.lines, at + SPACE_WAITERS, 1);
    }
  }

  /**
   * Sends `message` on channel `name` from this thread: returns the number of threads it went
   * to (0: nobody subscribes), or FULL when a queue was full and the channel's policy is not a
   * drop policy (nothing was sent; the caller fails, or waits with `sendWaiting`). `origin` is carried to the receivers (the Redis bridge marks what it injects).
   */
  publish(name: string, message: unknown, origin: number): number {
    const kind = this.#check(message);
    const channel = this.channels.lookup(name);
    if (channel === -1) return 0; // no thread ever joined it
    const targets = this.#targets;
    const count = this.subscriptions.endpointsOf(channel, targets);
    if (count === 0) return 0;
    const policy = this.channels.policy(channel);
    const dropping = policy === Policy.DROP_OLDEST || policy === Policy.DROP_NEWEST;
    const lines = this.lines;
    let reserved = 0;
    for (let i = 0; i < count; i++) {
      const at = this.#senderLine(targets[i]);
      const before = Atomics.add(lines, at + IN_FLIGHT, 1);
      if (before < this.sizes.ringCapacity) {
        this.#wasEmpty[i] = before === 0 ? 1 : 0;
        reserved++;
        continue;
      }
      Atomics.sub(lines, at + IN_FLIGHT, 1);
      this.#wasEmpty[i] = 0;
      if (!dropping) {
        this.#undo(targets, i);
        this.#fullEndpoint = targets[i];
        return FULL;
      }
      // A whole thread is behind by a full queue: whatever the drop policy, what can be dropped
      // is this message there (only the thread can take from its queue). Counted once sent.
      targets[i] = -1 - targets[i];
    }
    let slot = -1;
    if (reserved > 0) {
      try {
        slot = this.messages.add(
          channel,
          // Taken after the thread bits were read: a subscriber that joined before this send
          // began has a number no greater than this (see ChannelEndpoint.joined).
          this.channels.nextSequence(channel),
          kind,
          message as string | Uint8Array | IOBuf,
          this.#scratch,
          origin,
          reserved,
        );
      } catch (error) {
        this.#undo(targets, count);
        throw error;
      }
      if (slot === -1) {
        this.#undo(targets, count);
        throw new WeftError(
          ErrorCode.CAPACITY,
          `no room for a message on "${name}": no free slot among the ${this.sizes.maxMessages} ` +
            "message slots (in flight to subscribers, or freed into other threads' caches); " +
            'raise the `maxMessages` option',
        );
      }
    }
    for (let i = 0; i < count; i++) {
      const endpoint = targets[i];
      if (endpoint < 0) {
        const lost = this.subscriptions.countOn(channel, -1 - endpoint);
        this.channels.addDropped(channel, lost);
        Atomics.add(lines, this.#senderLine(-1 - endpoint) + QUEUE_DROPPED, lost);
        continue;
      }
      // Cannot fail: the credit taken above guarantees a free cell.
      this.rings[endpoint].tryPush(slot);
      if (this.#wasEmpty[i] === 1) this.#lots[endpoint].signal();
    }
    return reserved;
  }

  /**
   * Gives back the credits taken on targets[0, end) (a send that failed). A thread whose queue
   * this send found empty is signalled anyway: another send may have pushed meanwhile, counting
   * on this one to wake it; and senders waiting for room may now have it.
   */
  #undo(targets: Int32Array, end: number): void {
    for (let i = 0; i < end; i++) {
      const endpoint = targets[i];
      if (endpoint < 0) continue;
      Atomics.sub(this.lines, this.#senderLine(endpoint) + IN_FLIGHT, 1);
      if (this.#wasEmpty[i] === 1) this.#lots[endpoint].signal();
      this.#wakeSpaceWaiters(endpoint);
    }
  }

  // The message's kind; E_INVALID_ARGUMENT for other types, E_TOO_LARGE above the limit.
  #check(message: unknown): number {
    let kind: number;
    let bytes: number;
    if (typeof message === 'string') {
      kind = Kind.STRING;
      // Cheap first: a string of n UTF-16 units has at most 3n UTF-8 bytes.
      bytes = 3 * message.length > this.sizes.maxMessageBytes ? Buffer.byteLength(message) : 0;
    } else if (message instanceof Uint8Array) {
      kind = Kind.BYTES;
      bytes = message.byteLength;
    } else if (message instanceof IOBuf) {
      kind = Kind.IOBUF;
      bytes = message.length;
    } else {
      throw new WeftTypeError(
        ErrorCode.INVALID_ARGUMENT,
        `a message is a string, a Uint8Array or an IOBuf, got ${message === null ? 'null' : typeof message}`,
      );
    }
    if (bytes > this.sizes.maxMessageBytes) {
      throw new WeftError(
        ErrorCode.TOO_LARGE,
        `a message of ${bytes} bytes is over this hub's limit of ${this.sizes.maxMessageBytes} ` +
          '(the `maxMessageBytes` option)',
      );
    }
    return kind;
  }
}
