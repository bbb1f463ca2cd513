/**
 * Subscriber: a subscriber on the thread that started the hub (usually the main thread).
 *
 * The same queue and notification as a fiber's (SubscriberCore), with promises where a fiber
 * parks: `ready` resolves on the next notification, and `for await (const message of subscriber)`
 * receives until the subscriber is closed. A subscriber keeps the process alive only while
 * someone awaits it.
 */
import type { Message } from './channel-endpoint.ts';
import type { Channels } from './channels.ts';
import type { SubscriberCore, SubscriberStats } from './subscriber-core.ts';

export class Subscriber implements AsyncIterable<Message>, Disposable {
  readonly #core: SubscriberCore;
  readonly #channels: Channels;

  constructor(core: SubscriberCore, channels: Channels) {
    this.#core = core;
    this.#channels = channels;
  }

  /** Joins `channel` (idempotent): messages sent on it from now on are queued here. */
  join(channel: string): this {
    this.#core.join(channel);
    this.#channels.wakePump(0);
    return this;
  }

  /** Leaves `channel` (idempotent); its messages still queued here are dropped. */
  leave(channel: string): this {
    this.#core.leave(channel);
    return this;
  }

  /**
   * The oldest queued message, or null when there is none (which re-arms `ready`). Never waits.
   * E_NOT_SUBSCRIBED if this subscriber has joined no channel.
   */
  recv(): Message | null {
    return this.#core.recv();
  }

  /**
   * Resolves on the next notification: when a message lands in the empty queue after `recv()`
   * returned null (edge-triggered, see SubscriberCore). Resolves at once if one is pending.
   */
  get ready(): Promise<void> {
    return new Promise((resolve) => {
      let registering = true;
      const cancel = this.#core.whenNotified(() => {
        if (!registering) this.#channels.wakePump(-1);
        resolve();
      });
      registering = false;
      if (cancel !== undefined) this.#channels.wakePump(1);
    });
  }

  /** Receives messages as they come, until the subscriber is closed. */
  async *[Symbol.asyncIterator](): AsyncIterator<Message> {
    const core = this.#core;
    while (!core.closed) {
      const message = core.recv();
      if (message !== null) yield message;
      else await this.ready;
    }
  }

  stats(): SubscriberStats {
    return this.#core.stats();
  }

  /** Leaves every channel and drops what is queued; later calls are E_CLOSED. */
  close(): void {
    this.#core.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
