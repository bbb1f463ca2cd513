/**
 * SubscriberCore: one subscriber's queue, channels and edge-triggered notification — what a
 * fiber's implicit subscriber and a thread's `Subscriber` object share.
 *
 * The queue holds message slots (numbers), oldest first. Notification follows the seed exactly:
 * the subscriber has an "ack" flag, set at the start. When a message lands in an empty queue and
 * the flag is set, the subscriber is notified once (a parked `ready` wakes, or the next `ready`
 * returns at once) and the flag is cleared; only `recv()` returning null sets it again. So a
 * reader that drains until null gets exactly one notification per empty → non-empty transition,
 * and one that stops early gets none until it has drained.
 */

import { ErrorCode, WeftError } from '@weft/shm';
import Denque from 'denque';
import type { ChannelEndpoint, Message } from './channel-endpoint.ts';

/** Counters of one subscriber. */
export interface SubscriberStats {
  /** Channels joined. */
  channels: number;
  /** Messages waiting in its queue. */
  queued: number;
  received: number;
  /** Notifications: transitions from empty to non-empty while armed. */
  notifications: number;
  /** Messages its channels' drop policies dropped from its queue, or kept out of it. */
  dropped: number;
}

export class SubscriberCore {
  /** Its number among its thread's subscribers (its bit in the subscription rows). */
  readonly index: number;
  readonly #endpoint: ChannelEndpoint;
  readonly #queue = new Denque<number>();
  readonly #channels = new Set<number>();
  readonly #capacity: number;
  #armed = true;
  #notified = false;
  // Readers waiting for the next notification (several may: `Promise.race` over `ready`).
  #waiters: (() => void)[] = [];
  #received = 0;
  #notifications = 0;
  #dropped = 0;
  #closed = false;

  constructor(endpoint: ChannelEndpoint, index: number) {
    this.#endpoint = endpoint;
    this.index = index;
    this.#capacity = endpoint.hub.sizes.queueCapacity;
  }

  get full(): boolean {
    return this.#queue.length >= this.#capacity;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Joins channel `name` (idempotent). */
  join(name: string): void {
    this.#live();
    const channel = this.#endpoint.hub.channels.intern(name);
    if (this.#channels.has(channel)) return;
    this.#channels.add(channel);
    this.#endpoint.joined(this, channel);
  }

  /** Leaves channel `name` (idempotent) and drops its messages still queued here. */
  leave(name: string): void {
    this.#live();
    const channel = this.#endpoint.hub.channels.lookup(name);
    if (channel === -1 || !this.#channels.has(channel)) return;
    this.#leave(channel);
  }

  #leave(channel: number): void {
    this.#channels.delete(channel);
    this.#endpoint.left(this, channel);
    const { messages } = this.#endpoint.hub;
    const queue = this.#queue;
    for (let i = queue.length; i > 0; i--) {
      const slot = queue.shift() as number;
      if (messages.channelOf(slot) === channel) this.#endpoint.release(slot);
      else queue.push(slot);
    }
  }

  /** The oldest message, or null (which re-arms the notification). E_NOT_SUBSCRIBED if joined to nothing. */
  recv(): Message | null {
    const slot = this.#queue.shift();
    if (slot === undefined) {
      if (this.#channels.size === 0) {
        this.#live();
        throw new WeftError(
          ErrorCode.NOT_SUBSCRIBED,
          'recv() on a subscriber that has joined no channel: join(channel) first',
        );
      }
      this.#armed = true;
      // The reader saw the queue empty: a notification latched meanwhile is spent.
      this.#notified = false;
      return null;
    }
    const endpoint = this.#endpoint;
    const message = endpoint.materialize(slot);
    endpoint.release(slot);
    this.#received++;
    if (endpoint.stalledOn === this) endpoint.resume();
    return message;
  }

  /** Queues `slot` (the endpoint checked there is room) and notifies on the armed edge. */
  push(slot: number): void {
    this.#queue.push(slot);
    if (this.#queue.length !== 1 || !this.#armed) return;
    this.#armed = false;
    this.#notifications++;
    this.#wakeWaiters();
  }

  // The notification goes to every waiting reader, or waits for the next one.
  #wakeWaiters(): void {
    const waiters = this.#waiters;
    if (waiters.length === 0) {
      this.#notified = true;
      return;
    }
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** Drops the oldest queued message (drop-oldest policy). */
  dropOldest(): void {
    this.#endpoint.release(this.#queue.shift() as number);
    this.#dropped++;
  }

  /** Counts a message the drop-newest policy did not queue here. */
  droppedNewest(): void {
    this.#dropped++;
  }

  /**
   * Waits for the next notification: `wake` runs at once if one is pending (then it returns
   * undefined), else when it comes (then it returns what cancels the wait).
   */
  whenNotified(wake: () => void): (() => void) | undefined {
    this.#live();
    if (this.#notified) {
      this.#notified = false;
      wake();
      return undefined;
    }
    if (this.#channels.size === 0) {
      throw new WeftError(
        ErrorCode.NOT_SUBSCRIBED,
        'waiting on a subscriber that has joined no channel would never end: join(channel) first',
      );
    }
    this.#waiters.push(wake);
    return () => {
      const at = this.#waiters.indexOf(wake);
      if (at >= 0) this.#waiters.splice(at, 1);
    };
  }

  /** Leaves every channel, drops what is queued, and gives the subscriber's number back. */
  close(): void {
    if (this.#closed) return;
    for (const channel of [...this.#channels]) this.#leave(channel);
    this.#closed = true;
    this.#endpoint.closed(this);
    // Readers waiting for a notification wake and find the subscriber closed.
    this.#notified = false;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  stats(): SubscriberStats {
    return {
      channels: this.#channels.size,
      queued: this.#queue.length,
      received: this.#received,
      notifications: this.#notifications,
      dropped: this.#dropped,
    };
  }

  #live(): void {
    if (this.#closed) {
      throw new WeftError(ErrorCode.CLOSED, 'this subscriber is closed');
    }
  }
}
