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
  deliveryCounter,
  reportReady,
  type Source,
  type SubscriberSetup,
} from '../peers/channels.ts';

type Deliver = (message: Uint8Array) => void;

const setup = workerData as SubscriberSetup;
let failed = false;

function fail(text: string): void {
  if (failed) return;
  failed = true;
  parentPort!.postMessage(text);
}

/** The message handler of subscriber `index`. */
function subscriber(index: number): Deliver {
  return deliveryCounter(setup, index, fail);
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
    case 'hosted':
      throw new Error('a hosted transport starts its own subscribers');
  }
}

await Promise.all(
  setup.subscribers.map((index, slot) => subscribe(setup.source, slot, subscriber(index))),
);
reportReady(setup);
