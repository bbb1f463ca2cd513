/**
 * The subscribing side of bench/peers/channels.ts: one worker thread hosting a group of a
 * fan-out's subscribers, each on a channel of its own — a BroadcastChannel object, a MessagePort
 * or a Redis connection — as its workerData (a SubscriberSetup) says.
 *
 * Each subscriber checks that it receives messages 0, 1, 2, … once each, stores its count in the
 * shared words every `reportEvery` messages and at the last, and wakes the publisher; in latency
 * runs it also stores each delivery's publish → handler time. Once all have subscribed, the
 * worker counts itself READY. It posts the text of the first break in order to the main thread,
 * which fails the run, and stops counting: the run is over anyway.
 */

import { BroadcastChannel, parentPort, workerData } from 'node:worker_threads';
import { Redis } from 'ioredis';
import {
  COUNTS,
  clockNs,
  READY,
  type Source,
  type SubscriberSetup,
  sentAtOf,
  sequenceOf,
  WAKE,
} from '../peers/channels.ts';

type Deliver = (message: Uint8Array) => void;

const setup = workerData as SubscriberSetup;
let failed = false;

function wakePublisher(): void {
  Atomics.add(setup.words, WAKE, 1);
  Atomics.notify(setup.words, WAKE);
}

function fail(text: string): void {
  if (failed) return;
  failed = true;
  parentPort!.postMessage(text);
}

/** The message handler of subscriber `index`. */
function subscriber(index: number): Deliver {
  const { messages, reportEvery, words, latency } = setup;
  const countWord = COUNTS + index;
  const latencyBase = latency && index * (messages - latency.from) - latency.from;
  let received = 0;
  return (message) => {
    // First, so that the check below is not part of the latency.
    const now = latency ? clockNs() : 0;
    if (failed) return;
    const sequence = sequenceOf(message);
    if (sequence !== received) {
      fail(`subscriber ${index} received message ${sequence} after ${received} messages`);
      return;
    }
    received++;
    if (latency && sequence >= latency.from) {
      latency.ns[latencyBase! + sequence] = now - sentAtOf(message);
    }
    if (received % reportEvery === 0 || received === messages) {
      Atomics.store(words, countWord, received);
      wakePublisher();
    }
  };
}

/** Subscribes `deliver` as the worker's `slot`-th subscriber; resolves once it is subscribed. */
async function subscribe(source: Source, slot: number, deliver: Deliver): Promise<void> {
  switch (source.transport) {
    case 'BroadcastChannel': {
      // Subscribed from construction on: the publisher posts only after READY.
      const channel = new BroadcastChannel(source.name);
      channel.onmessage = (event) => deliver(event.data as Uint8Array);
      return;
    }
    case 'MessagePort':
      source.ports[slot].on('message', deliver);
      return;
    case 'Redis': {
      const client = new Redis(source.url, { retryStrategy: () => null });
      client.on('error', (error) => fail(`redis subscriber ${slot}: ${error.message}`));
      client.on('messageBuffer', (_channel, message) => deliver(message));
      // Resolves once the server has registered the subscription.
      await client.subscribe(source.channel);
      return;
    }
  }
}

await Promise.all(
  setup.subscribers.map((index, slot) => subscribe(setup.source, slot, subscriber(index))),
);
Atomics.add(setup.words, READY, 1);
wakePublisher();
