/**
 * The peers of bench/channels.ts: pub/sub fan-out with what a Node user reaches for instead of
 * weft's channels — a BroadcastChannel, one MessagePort per subscriber, and Redis pub/sub through
 * ioredis — measured the way shared/research/BASELINES.md (section 5, pubsub.mjs) measured them,
 * so the figures can be held against those anchors.
 *
 * The publisher runs on the main thread. The subscribers are spread over worker threads in
 * contiguous groups (4 over 2 workers: 0+1 in one, 2+3 in the other), each with a channel of its
 * own: its own BroadcastChannel object, MessagePort or Redis connection. Every message is a fresh
 * `bytes`-long Uint8Array (a pooled Buffer slice would clone its whole 8 KiB pool) carrying its
 * sequence number; every subscriber checks that it receives 0, 1, 2, … — each message once, in
 * order — and the first break fails the run.
 *
 * Flow control: none of the three pushes back on a fast publisher (their queues grow without
 * bound), so each subscriber writes its received count into a SharedArrayBuffer every 256
 * messages and at the last one, then bumps and notifies a wake word; the publisher stays at most
 * `window` messages ahead of the slowest subscriber, awaiting Atomics.waitAsync on that word when
 * it is not. No progress for 10 s fails the run with every subscriber's count: that is how a
 * lost message shows.
 *
 * Fan-out: messages/s = messages / (first publish → every subscriber has them all); deliveries/s
 * is that times the subscribers.
 *
 * One-way latency: `warmup` messages, then `messages` more, are sent one at a time, each once
 * every subscriber has the one before (here every subscriber reports every message). Each message
 * carries its publish time and each subscriber's handler stores its own time minus that, per
 * delivery, in a shared Float64Array. The clock is process.hrtime on both sides, one monotonic
 * clock for all threads of a process; performance.timeOrigin + performance.now() is not: a
 * worker's reading is off the main thread's by 0.03 to 3 ms here, depending on the run.
 */

import {
  BroadcastChannel,
  MessageChannel,
  type MessagePort,
  type TransferListItem,
  Worker,
} from 'node:worker_threads';
import { Redis } from 'ioredis';

/** A fan-out throughput run. */
export interface FanOutOptions {
  /** Messages to publish. */
  messages: number;
  subscribers: number;
  /** Worker threads the subscribers are spread over. */
  workers: number;
  /** Size of each message, at least 16. */
  bytes: number;
  /** How many messages the publisher may be ahead of the slowest subscriber. */
  window: number;
}

export interface FanOutResult {
  /** First publish → every subscriber has every message. */
  seconds: number;
  messagesPerSecond: number;
  /** Messages received, summed over the subscribers, per second. */
  deliveriesPerSecond: number;
}

/** A one-way latency run: messages sent one at a time. */
export interface LatencyOptions {
  /** Messages timed. */
  messages: number;
  /** Messages sent the same way before them, not timed. */
  warmup: number;
  subscribers: number;
  workers: number;
  /** Size of each message, at least 16. */
  bytes: number;
}

/** One-way latencies in µs over all deliveries (messages × subscribers). */
export interface LatencyResult {
  /** The fastest tenth: what a delivery costs when nothing else is in its way. */
  p10: number;
  p50: number;
  p99: number;
  samples: number;
}

// ---- Shared with workers/channels-peer-subscriber.ts -------------------------------------------

/** Where a worker's subscribers take their messages from. */
export type Source =
  | { transport: 'BroadcastChannel'; name: string }
  /** One port per subscriber of the worker, in its order. */
  | { transport: 'MessagePort'; ports: MessagePort[] }
  | { transport: 'Redis'; url: string; channel: string }
  /** The transport starts its subscribers itself (Peer.host). */
  | { transport: 'hosted' };

/** A subscriber worker's workerData. */
export interface SubscriberSetup {
  source: Source;
  /** The subscribers this worker hosts: their indices in the counts and latencies. */
  subscribers: number[];
  /** Messages each subscriber is to receive. */
  messages: number;
  /** A subscriber stores its count every `reportEvery` messages, and at the last. */
  reportEvery: number;
  /** The shared words: WAKE, READY, then one count per subscriber from COUNTS. */
  words: Int32Array;
  /**
   * Latency runs only: deliveries of message `from` onwards store their one-way ns at
   * `ns[subscriber * (messages - from) + sequence - from]`.
   */
  latency: { from: number; ns: Float64Array } | undefined;
}

/** Bumped and notified on every report; the main thread waits on it. */
export const WAKE = 0;
/** Workers whose subscribers have all subscribed. */
export const READY = 1;
/** Subscriber i's received count is word COUNTS + i. */
export const COUNTS = 2;

/** Now, in ns, on the clock every thread of the process shares. */
export function clockNs(): number {
  return Number(process.hrtime.bigint());
}

/** The sequence number a message carries (bytes 0–3). */
export function sequenceOf(message: Uint8Array): number {
  return (message[0] | (message[1] << 8) | (message[2] << 16) | (message[3] << 24)) >>> 0;
}

// A message's publish time (bytes 8–15) goes through these; both sides share the byte order.
const stampValue = new Float64Array(1);
const stampBytes = new Uint8Array(stampValue.buffer);

/** The publish time (clockNs) a latency run's message carries. */
export function sentAtOf(message: Uint8Array): number {
  for (let i = 0; i < 8; i++) stampBytes[i] = message[8 + i];
  return stampValue[0];
}

/**
 * The message handler of subscriber `index` of `setup`: checks that it receives 0, 1, 2, … once
 * each, stores its count every `reportEvery` messages and at the last (waking the publisher), and
 * in latency runs each delivery's publish → handler time. Returns false from the first break on
 * (after calling `fail` with its text).
 */
export function deliveryCounter(
  setup: SubscriberSetup,
  index: number,
  fail: (text: string) => void,
): (message: Uint8Array) => boolean {
  const { messages, reportEvery, words, latency } = setup;
  const countWord = COUNTS + index;
  const latencyBase = latency && index * (messages - latency.from) - latency.from;
  let received = 0;
  let failed = false;
  return (message) => {
    // First, so that the check below is not part of the latency.
    const now = latency ? clockNs() : 0;
    if (failed) return false;
    const sequence = sequenceOf(message);
    if (sequence !== received) {
      failed = true;
      fail(`subscriber ${index} received message ${sequence} after ${received} messages`);
      return false;
    }
    received++;
    if (latency && sequence >= latency.from) {
      latency.ns[(latencyBase as number) + sequence] = now - sentAtOf(message);
    }
    if (received % reportEvery === 0 || received === messages) {
      Atomics.store(words, countWord, received);
      Atomics.add(words, WAKE, 1);
      Atomics.notify(words, WAKE);
    }
    return true;
  };
}

/** A group of subscribers has subscribed: counts it READY and wakes the publisher. */
export function reportReady(setup: SubscriberSetup): void {
  Atomics.add(setup.words, READY, 1);
  Atomics.add(setup.words, WAKE, 1);
  Atomics.notify(setup.words, WAKE);
}

// ---- Main thread -------------------------------------------------------------------------------

const SUBSCRIBER_SCRIPT = new URL('../workers/channels-peer-subscriber.ts', import.meta.url);
const REPORT_EVERY = 256;
const STALL_MS = 10_000;
const MIN_BYTES = 16;

/** The publishing end of a transport; a publish may return a promise to wait for (room). */
export interface Publisher {
  publish(message: Uint8Array): unknown;
  close(): Promise<void>;
}

/** A transport set up for one run. */
export interface Peer {
  publisher: Publisher;
  /** What the worker hosting `subscribers` needs, and the objects to transfer to it. */
  sourceFor(subscribers: number[]): { source: Source; transfer: TransferListItem[] };
  /**
   * A transport that hosts its subscribers itself (weft's fibers) instead of in this module's
   * workers: starts them from `setups` (one per group of subscribers) and returns what stops them.
   */
  host?(setups: SubscriberSetup[]): Promise<() => Promise<void>>;
}

/** Sets a transport up for `subscribers`; `fail` takes errors that arrive out of band. */
export type OpenPeer = (subscribers: number, fail: (error: Error) => void) => Promise<Peer>;

// Names each run's BroadcastChannel or Redis channel apart from earlier runs'.
let channelsOpened = 0;
const channelName = () => `weft-bench-${process.pid}-${channelsOpened++}`;

const openBroadcastChannel: OpenPeer = async () => {
  const name = channelName();
  const channel = new BroadcastChannel(name);
  return {
    publisher: {
      publish: (message) => channel.postMessage(message),
      close: async () => channel.close(),
    },
    sourceFor: () => ({ source: { transport: 'BroadcastChannel', name }, transfer: [] }),
  };
};

const openMessagePorts: OpenPeer = async (subscribers) => {
  const pairs = Array.from({ length: subscribers }, () => new MessageChannel());
  const ports = pairs.map((pair) => pair.port1);
  return {
    publisher: {
      // One structured clone per subscriber, where a BroadcastChannel makes one for all.
      publish(message) {
        for (const port of ports) port.postMessage(message);
      },
      async close() {
        for (const port of ports) port.close();
      },
    },
    sourceFor(hosted) {
      const theirs = hosted.map((subscriber) => pairs[subscriber].port2);
      return { source: { transport: 'MessagePort', ports: theirs }, transfer: theirs };
    },
  };
};

function openRedis(url: string): OpenPeer {
  return async (_subscribers, fail) => {
    const channel = channelName();
    // No reconnecting (here or in the subscribers): a server that is not there fails the run
    // at once, and messages lost across a reconnection would fail it anyway.
    const client = new Redis(url, { enableAutoPipelining: true, retryStrategy: () => null });
    client.on('error', fail);
    const published = (error?: Error | null) => {
      if (error) fail(error);
    };
    await client.ping();
    return {
      publisher: {
        publish(message) {
          // A view, not a copy: ioredis sends Buffers as they are (other views it stringifies).
          const view = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
          client.publish(channel, view, published);
        },
        async close() {
          await client.quit();
        },
      },
      sourceFor: () => ({ source: { transport: 'Redis', url, channel }, transfer: [] }),
    };
  };
}

/** How a run's subscribers are laid out and what they record. */
interface Plan {
  subscribers: number;
  workers: number;
  messages: number;
  reportEvery: number;
  /** Latency runs: the first timed message and how many are timed. */
  latency: { from: number; samples: number } | undefined;
}

/** The main thread's side of a run's subscriber workers: their shared words and failures. */
class Subscribers {
  readonly #plan: Plan;
  readonly #words: Int32Array;
  readonly #latencyNs: Float64Array | undefined;
  readonly #workers: Worker[] = [];
  #stopHost: (() => Promise<void>) | undefined;
  #failure: Error | undefined;
  #closing = false;

  constructor(plan: Plan) {
    this.#plan = plan;
    this.#words = new Int32Array(new SharedArrayBuffer(4 * (COUNTS + plan.subscribers)));
    if (plan.latency) {
      const length = plan.subscribers * plan.latency.samples;
      this.#latencyNs = new Float64Array(new SharedArrayBuffer(8 * length));
    }
  }

  /** Fails the run: the next or current wait throws `error`. */
  fail(error: Error): void {
    this.#failure ??= error;
    Atomics.add(this.#words, WAKE, 1);
    Atomics.notify(this.#words, WAKE);
  }

  /** Starts the workers and resolves once every subscriber has subscribed to `peer`. */
  async start(peer: Peer): Promise<void> {
    const { subscribers, workers, messages, reportEvery, latency } = this.#plan;
    const groups = spread(subscribers, workers);
    const setups = groups.map((hosted) => {
      const { source, transfer } = peer.sourceFor(hosted);
      const setup: SubscriberSetup = {
        source,
        subscribers: hosted,
        messages,
        reportEvery,
        words: this.#words,
        latency: latency && { from: latency.from, ns: this.#latencyNs! },
      };
      return { setup, transfer };
    });
    if (peer.host !== undefined) {
      this.#stopHost = await peer.host(setups.map(({ setup }) => setup));
    }
    for (const { setup, transfer } of peer.host === undefined ? setups : []) {
      const worker = new Worker(SUBSCRIBER_SCRIPT, { workerData: setup, transferList: transfer });
      // A worker's only message is the text of its first failure.
      worker.on('message', (text: string) => this.fail(new Error(text)));
      worker.on('error', (error) => this.fail(error));
      worker.on('exit', (code) => {
        if (!this.#closing) this.fail(new Error(`a subscriber worker exited (code ${code})`));
      });
      this.#workers.push(worker);
    }
    await this.#until(() => Atomics.load(this.#words, READY) === groups.length, 'subscribing');
  }

  /** Resolves with the slowest subscriber's count once it is at least `target`. */
  async reached(target: number): Promise<number> {
    await this.#until(() => this.#slowest() >= target, `waiting for ${target}`);
    // Counts only grow: at least `target` still, maybe more.
    return this.#slowest();
  }

  /** The one-way latencies of the timed deliveries, in µs, sorted. */
  latenciesUs(): Float64Array {
    return Float64Array.from(this.#latencyNs!, (ns) => ns / 1e3).sort();
  }

  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all(this.#workers.map((worker) => worker.terminate()));
    await this.#stopHost?.();
  }

  #slowest(): number {
    let slowest = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.#plan.subscribers; i++) {
      slowest = Math.min(slowest, Atomics.load(this.#words, COUNTS + i));
    }
    return slowest;
  }

  // Waits until `done()`, rechecking after every wake-up; throws a failure, or after STALL_MS
  // without a wake-up.
  async #until(done: () => boolean, what: string): Promise<void> {
    for (;;) {
      if (this.#failure) throw this.#failure;
      // Read before checking: a report after the check changes it, so the wait returns at once.
      const epoch = Atomics.load(this.#words, WAKE);
      if (done()) return;
      const wait = Atomics.waitAsync(this.#words, WAKE, epoch, STALL_MS);
      if ((wait.async ? await wait.value : wait.value) === 'timed-out') {
        const counts = Array.from(this.#words.subarray(COUNTS));
        throw new Error(`${what}: no progress in ${STALL_MS} ms; counts ${counts.join(' ')}`);
      }
    }
  }
}

/** Subscribers 0..count-1 in at most `workers` contiguous groups of sizes differing by ≤ 1. */
function spread(count: number, workers: number): number[][] {
  const groups: number[][] = Array.from({ length: Math.min(count, workers) }, () => []);
  for (let i = 0; i < count; i++) groups[Math.floor((i * groups.length) / count)].push(i);
  return groups;
}

/** Runs `body` against `open`'s transport and subscribers laid out by `plan`, then ends both. */
async function withSubscribers<T>(
  open: OpenPeer,
  plan: Plan,
  bytes: number,
  body: (publisher: Publisher, subscribers: Subscribers) => Promise<T>,
): Promise<T> {
  if (bytes < MIN_BYTES) throw new RangeError(`messages need at least ${MIN_BYTES} bytes`);
  if (plan.subscribers < 1 || plan.workers < 1) throw new RangeError('no subscribers or workers');
  const subscribers = new Subscribers(plan);
  let peer: Peer | undefined;
  try {
    peer = await open(plan.subscribers, (error) => subscribers.fail(error));
    await subscribers.start(peer);
    return await body(peer.publisher, subscribers);
  } finally {
    await subscribers.close();
    await peer?.publisher.close();
  }
}

/** A fresh message carrying `sequence`. */
function newMessage(bytes: number, sequence: number): Uint8Array {
  const message = new Uint8Array(bytes);
  message[0] = sequence;
  message[1] = sequence >>> 8;
  message[2] = sequence >>> 16;
  message[3] = sequence >>> 24;
  return message;
}

/** A fan-out run over the transport `open` sets up. */
export async function fanOut(open: OpenPeer, options: FanOutOptions): Promise<FanOutResult> {
  const { messages, subscribers, workers, bytes, window } = options;
  // A report interval above the window would leave the publisher waiting for a report that the
  // subscribers only make after messages it may not send yet.
  const plan = {
    subscribers,
    workers,
    messages,
    reportEvery: Math.min(REPORT_EVERY, window),
    latency: undefined,
  };
  return withSubscribers(open, plan, bytes, async (publisher, group) => {
    const start = clockNs();
    let slowest = 0;
    for (let sequence = 0; sequence < messages; sequence++) {
      if (sequence - slowest >= window) slowest = await group.reached(sequence - window + 1);
      const room = publisher.publish(newMessage(bytes, sequence));
      if (room instanceof Promise) await room;
    }
    await group.reached(messages);
    const seconds = (clockNs() - start) / 1e9;
    return {
      seconds,
      messagesPerSecond: messages / seconds,
      deliveriesPerSecond: (messages * subscribers) / seconds,
    };
  });
}

/** A one-way latency run over the transport `open` sets up. */
export async function oneWayLatency(
  open: OpenPeer,
  options: LatencyOptions,
): Promise<LatencyResult> {
  const { messages, warmup, subscribers, workers, bytes } = options;
  const total = warmup + messages;
  const plan = {
    subscribers,
    workers,
    messages: total,
    reportEvery: 1,
    latency: { from: warmup, samples: messages },
  };
  return withSubscribers(open, plan, bytes, async (publisher, group) => {
    for (let sequence = 0; sequence < total; sequence++) {
      const message = newMessage(bytes, sequence);
      stampValue[0] = clockNs();
      message.set(stampBytes, 8);
      const room = publisher.publish(message);
      if (room instanceof Promise) await room;
      await group.reached(sequence + 1);
    }
    const us = group.latenciesUs();
    return {
      p10: percentile(us, 0.1),
      p50: percentile(us, 0.5),
      p99: percentile(us, 0.99),
      samples: us.length,
    };
  });
}

/** The nearest-rank `q` quantile of `sorted`. */
function percentile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** Fan-out over one BroadcastChannel object per subscriber, all on one channel name. */
export function fanOutBroadcastChannel(options: FanOutOptions): Promise<FanOutResult> {
  return fanOut(openBroadcastChannel, options);
}

/** Fan-out over one MessageChannel per subscriber: the publisher posts to each port. */
export function fanOutMessagePorts(options: FanOutOptions): Promise<FanOutResult> {
  return fanOut(openMessagePorts, options);
}

/**
 * Fan-out through the Redis server at `redisUrl`: one auto-pipelined ioredis publisher, one
 * ioredis subscriber connection per subscriber.
 */
export function fanOutRedis(options: FanOutOptions, redisUrl: string): Promise<FanOutResult> {
  return fanOut(openRedis(redisUrl), options);
}

/** One-way latency over BroadcastChannels, as fanOutBroadcastChannel sets them up. */
export function oneWayLatencyBroadcastChannel(options: LatencyOptions): Promise<LatencyResult> {
  return oneWayLatency(openBroadcastChannel, options);
}

/** One-way latency over MessagePorts, as fanOutMessagePorts sets them up. */
export function oneWayLatencyMessagePorts(options: LatencyOptions): Promise<LatencyResult> {
  return oneWayLatency(openMessagePorts, options);
}

/** One-way latency through Redis, as fanOutRedis sets it up. */
export function oneWayLatencyRedis(
  options: LatencyOptions,
  redisUrl: string,
): Promise<LatencyResult> {
  return oneWayLatency(openRedis(redisUrl), options);
}
