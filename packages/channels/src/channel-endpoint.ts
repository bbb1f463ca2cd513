/**
 * ChannelEndpoint: one thread's receiving side of a hub — its subscribers, and the dispatch of
 * the messages that senders pushed into its queue.
 *
 * A group's endpoint is a GroupSource: the group polls it in its loop after its inbox, one batch
 * at a time, so the fibers it wakes run before the next batch. (The thread that started the hub
 * polls it from a pump instead, see Channels.) Dispatch is local: the endpoint knows its
 * subscribers by channel id, pushes the message's slot into each one's queue (a denque) and counts
 * the deliveries in plain memory; the message's shared reference count is touched once per
 * thread, when the last local delivery is received or dropped.
 *
 * Joining mid-stream. A subscriber's join records its channel's send sequence number after setting
 * its bits, and dispatch skips messages numbered before it: those were sent before the join (the
 * thread may still have had them queued for its other subscribers). A send that takes its number
 * after the join read it began after the join set its bits — or ran alongside the join — so a
 * subscriber gets every message sent after it joined, and none from before.
 *
 * Bounds and policies. Each subscriber's queue holds at most `queueCapacity` messages. When one is
 * full, a `drop-oldest` or `drop-newest` channel drops there and counts it; a `block` or `error`
 * channel stops the dispatch instead (the message waits at the head), so the thread's queue fills
 * and its credits run out: senders then see the queue full, and park (block) or fail (error). The
 * dispatch resumes when that subscriber receives. This is head-of-line blocking by design: with
 * those policies a slow subscriber holds back its thread's other subscribers, as a full socket
 * holds back a connection.
 */
import type { IOBuf } from '@weft/iobuf';
import type { GroupSource } from '@weft/scheduler';
import { ErrorCode, WeftError } from '@weft/shm';
import { Policy } from './channel-table.ts';
import { EndpointWord, type Hub } from './hub.ts';
import { Kind } from './message-table.ts';
import { SubscriberCore } from './subscriber-core.ts';

/** A received message. */
export interface Message<T = string | Uint8Array | IOBuf> {
  /** The channel it was sent on. */
  channel: string;
  /** The body, as it was sent: a string, a Uint8Array (a copy of its own), or an IOBuf (shared blocks; release it). */
  data: T;
  /**
   * When it was sent: ms since the epoch (fractional), on one clock for every thread of the
   * process (process.hrtime's, placed on the epoch once per hub), so timestamps of messages sent
   * from different threads compare to the microsecond.
   */
  timestamp: number;
  /** 0 for messages sent in this process; the bridge that injected it otherwise. */
  origin: number;
}

/** Messages popped from the queue at once. */
const BATCH = 64;

export class ChannelEndpoint implements GroupSource {
  readonly index: number;
  readonly hub: Hub;
  readonly #ring: Hub['rings'][number];
  readonly #batch = new Int32Array(BATCH);
  #batchAt = 0;
  #batchCount = 0;
  #unsettled = 0;
  // Deliveries of each message on this thread not yet received or dropped, by message slot.
  readonly #deliveries: Int32Array;
  // This thread's subscribers of each channel, and the sequence number each joined at.
  readonly #byChannel = new Map<number, { subscribers: SubscriberCore[]; since: number[] }>();
  readonly #subscribers: (SubscriberCore | undefined)[] = [];
  readonly #freeIndexes: number[] = [];
  // The full subscriber the head message waits for (block and error channels).
  #stalledOn: SubscriberCore | undefined = undefined;
  #delivered = 0;
  #dropped = 0;
  // A Buffer over the pool's data, for decoding text (TextDecoder refuses shared memory).
  #bytes: Uint8Array | undefined = undefined;
  #text: Buffer = Buffer.alloc(0);

  constructor(hub: Hub, index: number) {
    this.hub = hub;
    this.index = index;
    this.#ring = hub.rings[index];
    this.#deliveries = new Int32Array(hub.sizes.maxMessages);
  }

  /** Subscribers of this thread that are open. */
  get subscribers(): number {
    return this.#subscribers.length - this.#freeIndexes.length;
  }

  /** A new subscriber of this thread; E_CAPACITY past `maxSubscribers`. */
  open(): SubscriberCore {
    const index = this.#freeIndexes.pop() ?? this.#subscribers.length;
    if (index >= this.hub.sizes.maxSubscribers) {
      throw new WeftError(
        ErrorCode.CAPACITY,
        `no room for another subscriber on this thread: all ${this.hub.sizes.maxSubscribers} ` +
          'are open; close unused ones, or raise the `maxSubscribers` option',
      );
    }
    const subscriber = new SubscriberCore(this, index);
    this.#subscribers[index] = subscriber;
    return subscriber;
  }

  /** Closes every subscriber of this thread. */
  closeAll(): void {
    for (const subscriber of this.#subscribers) subscriber?.close();
  }

  /** Called by a subscriber that closed. */
  closed(subscriber: SubscriberCore): void {
    this.#subscribers[subscriber.index] = undefined;
    this.#freeIndexes.push(subscriber.index);
  }

  joined(subscriber: SubscriberCore, channel: number): void {
    const { subscriptions, channels } = this.hub;
    subscriptions.add(channel, this.index, subscriber.index);
    // Read after the bits are set (see "Joining mid-stream").
    const since = channels.sequence(channel);
    const list = this.#byChannel.get(channel);
    if (list === undefined)
      this.#byChannel.set(channel, { subscribers: [subscriber], since: [since] });
    else {
      list.subscribers.push(subscriber);
      list.since.push(since);
    }
  }

  left(subscriber: SubscriberCore, channel: number): void {
    const list = this.#byChannel.get(channel);
    if (list !== undefined) {
      const at = list.subscribers.indexOf(subscriber);
      list.subscribers.splice(at, 1);
      list.since.splice(at, 1);
      if (list.subscribers.length === 0) this.#byChannel.delete(channel);
    }
    this.hub.subscriptions.remove(channel, this.index, subscriber.index);
    if (this.#stalledOn === subscriber) this.resume();
  }

  // ---- dispatch ----

  /** Dispatches one batch of queued messages; true if it did anything. */
  poll(): boolean {
    if (this.#stalledOn !== undefined) return false;
    if (this.#batchAt === this.#batchCount) {
      this.#settle();
      this.#batchCount = this.#ring.popBatch(this.#batch);
      this.#batchAt = 0;
      if (this.#batchCount === 0) return false;
      const { messages } = this.hub;
      for (let i = 0; i < this.#batchCount; i++) messages.hold(this.index, this.#batch[i]);
      this.#unsettled += this.#batchCount;
      this.hub.lines[this.hub.ownLine(this.index) + EndpointWord.UNSETTLED] = this.#unsettled;
    }
    while (this.#batchAt < this.#batchCount) {
      if (!this.#dispatch(this.#batch[this.#batchAt])) break;
      this.#batchAt++;
    }
    // (Also when stalled: what was delivered gives its credits back now.)
    this.#settle();
    return true;
  }

  /** True while there is something `poll` would dispatch. */
  pending(): boolean {
    return (
      this.#stalledOn === undefined &&
      (this.#batchAt < this.#batchCount || this.hub.inFlight(this.index) > 0)
    );
  }

  /** While this thread has subscribers, its group polls `pollMicros` before parking. */
  spinMs(): number {
    return this.subscribers > 0 ? this.hub.sizes.pollMicros / 1000 : 0;
  }

  /** A subscriber that received (or left) lets a stalled dispatch go on. */
  resume(): void {
    if (this.#stalledOn === undefined) return;
    this.#stalledOn = undefined;
    // Make sure `poll` runs again: a group polls after any signal, and so does the pump.
    this.hub.lotOf(this.index).signal();
  }

  /** The subscriber a stalled dispatch waits for. */
  get stalledOn(): SubscriberCore | undefined {
    return this.#stalledOn;
  }

  // Gives the credits of what this thread delivered back to the senders.
  #settle(): void {
    const done = this.#unsettled - (this.#batchCount - this.#batchAt);
    if (done === 0) return;
    this.#unsettled -= done;
    const line = this.hub.ownLine(this.index);
    const lines = this.hub.lines;
    lines[line + EndpointWord.UNSETTLED] = this.#unsettled;
    lines[line + EndpointWord.DELIVERED] += this.#delivered;
    lines[line + EndpointWord.DROPPED] += this.#dropped;
    this.#delivered = 0;
    this.#dropped = 0;
    this.hub.settle(this.index, done);
  }

  // Delivers message `slot` to this thread's subscribers of its channel; false if it must wait.
  #dispatch(slot: number): boolean {
    const { messages, channels } = this.hub;
    const channel = messages.channelOf(slot);
    const list = this.#byChannel.get(channel);
    if (list === undefined) {
      messages.letGo(this.index, slot); // its subscribers left meanwhile
      return true;
    }
    const { subscribers, since } = list;
    const sequence = messages.sequenceOf(slot);
    const policy = channels.policy(channel);
    const dropping = policy === Policy.DROP_OLDEST || policy === Policy.DROP_NEWEST;
    if (!dropping) {
      for (let i = 0; i < subscribers.length; i++) {
        if (subscribers[i].full && ((sequence - since[i]) | 0) >= 0) {
          this.#stalledOn = subscribers[i];
          return false;
        }
      }
    }
    let delivered = 0;
    let dropped = 0;
    for (let i = 0; i < subscribers.length; i++) {
      if (((sequence - since[i]) | 0) < 0) continue; // sent before it joined
      const subscriber = subscribers[i];
      if (subscriber.full) {
        dropped++;
        if (policy === Policy.DROP_NEWEST) {
          subscriber.droppedNewest();
          continue;
        }
        subscriber.dropOldest();
      }
      subscriber.push(slot);
      delivered++;
    }
    if (dropped > 0) {
      channels.addDropped(channel, dropped);
      this.#dropped += dropped;
    }
    this.#delivered += delivered;
    if (delivered === 0) messages.letGo(this.index, slot);
    else this.#deliveries[slot] = delivered;
    return true;
  }

  /** One delivery of `slot` on this thread is done (received or dropped). */
  release(slot: number): void {
    if (--this.#deliveries[slot] === 0) this.hub.messages.letGo(this.index, slot);
  }

  /** The message in `slot`, as its receiver gets it. */
  materialize(slot: number): Message {
    const { messages, pool } = this.hub;
    const kind = messages.kindOf(slot);
    let data: Message['data'];
    if (kind === Kind.IOBUF) {
      data = messages.bodyAsIOBuf(slot);
    } else if (!messages.isInline(slot)) {
      const body = messages.bodyAsIOBuf(slot);
      data = kind === Kind.STRING ? body.toString() : new Uint8Array(body.toBuffer());
      body.release();
    } else {
      const length = messages.lengthOf(slot);
      if (length === 0) {
        data = kind === Kind.STRING ? '' : new Uint8Array(0);
      } else {
        const block = messages.blockOf(slot);
        pool.blocks.cover(block);
        const start = pool.baseOf(block) + messages.offsetOf(slot);
        if (kind === Kind.BYTES) {
          data = pool.bytes.slice(start, start + length); // a copy in a plain ArrayBuffer
        } else {
          if (this.#bytes !== pool.bytes) {
            this.#bytes = pool.bytes;
            this.#text = Buffer.from(pool.bytes.buffer, 0, pool.bytes.length);
          }
          data = this.#text.toString('utf8', start, start + length);
        }
      }
    }
    return {
      channel: this.hub.channels.nameOf(messages.channelOf(slot)),
      data,
      timestamp: messages.timeOf(slot),
      origin: messages.originOf(slot),
    };
  }
}
