/**
 * RedisBridge: mirrors chosen channels of a hub to Redis pub/sub, so that weft processes on
 * several hosts share them (`@weft/channels/redis`).
 *
 * Two directions, two loops to break:
 *
 * - out: a subscriber of the mirrored channels on this thread publishes every local message to
 *   the Redis channel `prefix + name`, wrapped in an envelope: this process's origin id (16 random
 *   bytes), the body's kind (text, bytes, IOBuf), the body;
 * - in: a Redis subscription to the same names sends what other processes published into the hub,
 *   marked with the bridge's local origin number, so every local subscriber gets it.
 *
 * Redis echoes a publish to every subscriber, this process's included: envelopes carrying our own
 * origin id are skipped on the way in. And the bridge's own local subscriber sees what the bridge
 * injected: messages carrying its origin number are skipped on the way out. So a message crosses
 * each process once and never loops back.
 *
 * Delivery is Redis's: at most once, while connected. Injection keeps Redis's order; when a local
 * queue is full, messages wait (in order) for room rather than being dropped.
 */
import { randomBytes } from 'node:crypto';
import { IOBuf } from '@weft/iobuf';
import { ErrorCode, requireInteger, WeftTypeError } from '@weft/shm';
import { Redis, type RedisOptions } from 'ioredis';
import type { Message } from './channel-endpoint.ts';
import type { Channels } from './channels.ts';
import { Kind } from './message-table.ts';
import type { Subscriber } from './subscriber.ts';

/** Options of `RedisBridge.start`. */
export interface RedisBridgeOptions {
  /** Where Redis is: a `redis://` URL, or ioredis options. */
  redis: string | RedisOptions;
  /** The channels to mirror (each at most 255 UTF-8 bytes, as every channel name). */
  channels: string[];
  /** Prefix of the Redis channel names (default 'weft:'), so several hubs can share a server. */
  prefix?: string;
  /** This bridge's mark on the messages it injects locally (`message.origin`; default 1). */
  localOrigin?: number;
}

/** Counters of a bridge. */
export interface RedisBridgeStats {
  /** Local messages published to Redis. */
  published: number;
  /** Messages from other processes sent into the hub. */
  injected: number;
  /** Our own publishes that Redis echoed back (skipped). */
  echoes: number;
  /** Messages lost on the way: a publish Redis refused, or an injection the hub refused. */
  failed: number;
}

const ORIGIN_BYTES = 16;

export class RedisBridge {
  readonly #channels: Channels;
  readonly #subscriber: Subscriber;
  readonly #publisher: Redis;
  readonly #listener: Redis;
  readonly #origin: Buffer;
  readonly #prefix: string;
  readonly #localOrigin: number;
  readonly #stats: RedisBridgeStats = { published: 0, injected: 0, echoes: 0, failed: 0 };
  // Messages from Redis waiting for room in a full local queue, oldest first (as a chain).
  #backlog = 0;
  #tail: Promise<unknown> = Promise.resolve();
  readonly #pumping: Promise<void>;
  #closed = false;

  /** Connects to Redis and starts mirroring `options.channels`. */
  static async start(channels: Channels, options: RedisBridgeOptions): Promise<RedisBridge> {
    if (!Array.isArray(options?.channels) || options.channels.length === 0) {
      throw new WeftTypeError(
        ErrorCode.INVALID_ARGUMENT,
        'RedisBridge needs `channels`: a non-empty list of channel names to mirror',
      );
    }
    if (options.localOrigin !== undefined) {
      requireInteger(options.localOrigin, 1, 2 ** 23 - 1, 'RedisBridge localOrigin');
    }
    const connect = () =>
      typeof options.redis === 'string'
        ? new Redis(options.redis, { lazyConnect: true })
        : new Redis({ ...options.redis, lazyConnect: true });
    const publisher = connect();
    const listener = connect();
    // ioredis reconnects by itself; a lost connection is reported, not thrown into the process.
    for (const client of [publisher, listener]) {
      client.on('error', (error: Error) => {
        process.emitWarning(`weft RedisBridge: ${error.message}`);
      });
    }
    publisher.options.enableAutoPipelining = true;
    try {
      await Promise.all([publisher.connect(), listener.connect()]);
    } catch (error) {
      publisher.disconnect();
      listener.disconnect();
      throw error;
    }
    const bridge = new RedisBridge(channels, options, publisher, listener);
    await listener.subscribe(...options.channels.map((name) => bridge.#prefix + name));
    return bridge;
  }

  private constructor(
    channels: Channels,
    options: RedisBridgeOptions,
    publisher: Redis,
    listener: Redis,
  ) {
    this.#channels = channels;
    this.#publisher = publisher;
    this.#listener = listener;
    this.#origin = randomBytes(ORIGIN_BYTES);
    this.#prefix = options.prefix ?? 'weft:';
    this.#localOrigin = options.localOrigin ?? 1;
    this.#subscriber = channels.subscribe(...options.channels);
    listener.on('messageBuffer', (channel: Buffer, envelope: Buffer) =>
      this.#fromRedis(channel, envelope),
    );
    this.#pumping = this.#toRedis();
  }

  /** This process's origin id on the wire (hex). */
  get origin(): string {
    return this.#origin.toString('hex');
  }

  stats(): RedisBridgeStats {
    return { ...this.#stats };
  }

  /** Stops mirroring: leaves the local channels, waits for queued injections, disconnects. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#subscriber.close();
    await this.#pumping;
    await this.#tail;
    // The listener is in subscriber mode: drop it at once (it has nothing to flush); the
    // publisher sends what it queued before it quits.
    this.#listener.disconnect();
    await this.#publisher.quit();
  }

  // Local messages out to Redis (not the ones this bridge injected).
  async #toRedis(): Promise<void> {
    for await (const message of this.#subscriber) {
      if (message.origin === this.#localOrigin) continue;
      this.#stats.published++;
      this.#publisher
        .publish(this.#prefix + message.channel, this.#wrap(message))
        .catch((error: Error) => this.#lost(error));
    }
  }

  #wrap(message: Message): Buffer {
    const { data } = message;
    let kind: number;
    let body: Uint8Array;
    if (typeof data === 'string') {
      kind = Kind.STRING;
      body = Buffer.from(data);
    } else if (data instanceof IOBuf) {
      kind = Kind.IOBUF;
      body = data.toBuffer();
      data.release();
    } else {
      kind = Kind.BYTES;
      body = data;
    }
    const envelope = Buffer.allocUnsafe(ORIGIN_BYTES + 1 + body.length);
    this.#origin.copy(envelope, 0);
    envelope[ORIGIN_BYTES] = kind;
    envelope.set(body, ORIGIN_BYTES + 1);
    return envelope;
  }

  // Messages of other processes into the hub; our own echoes are skipped.
  #fromRedis(redisChannel: Buffer, envelope: Buffer): void {
    if (this.#closed || envelope.length < ORIGIN_BYTES + 1) return;
    if (envelope.subarray(0, ORIGIN_BYTES).equals(this.#origin)) {
      this.#stats.echoes++;
      return;
    }
    const name = redisChannel.toString().slice(this.#prefix.length);
    const body = envelope.subarray(ORIGIN_BYTES + 1);
    const kind = envelope[ORIGIN_BYTES];
    const data =
      kind === Kind.STRING
        ? body.toString()
        : kind === Kind.IOBUF
          ? IOBuf.from(body, this.#channels.pool)
          : new Uint8Array(body);
    const release = () => {
      if (data instanceof IOBuf) data.release();
    };
    const options = { origin: this.#localOrigin };
    try {
      if (this.#backlog === 0 && this.#channels.trySend(name, data, options)) {
        this.#stats.injected++;
        release();
        return;
      }
    } catch (error) {
      // (A body over this hub's size limit, say: it is lost here, the bridge goes on.)
      release();
      this.#lost(error as Error);
      return;
    }
    this.#backlog++;
    this.#tail = this.#tail
      .then(() => this.#channels.sendAsync(name, data, options))
      .then(
        () => {
          this.#stats.injected++;
        },
        (error: Error) => this.#lost(error),
      )
      .finally(() => {
        this.#backlog--;
        release();
      });
  }

  // A message lost on the way: counted and reported; the bridge carries on.
  #lost(error: Error): void {
    this.#stats.failed++;
    process.emitWarning(`weft RedisBridge: a message was lost: ${error.message}`);
  }
}
