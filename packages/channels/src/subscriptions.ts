/**
 * Subscriptions: who listens to which channel, as bitmaps in shared memory (the seed's
 * `bitmap[worker][core]`).
 *
 * Two levels, so that a sender reads little and a receiver dispatches locally:
 *
 * - per channel, one bit per thread (endpoint) that has at least one subscriber: the sender reads
 *   these words to know which threads' queues get the message — one queue write per thread, never
 *   one per subscriber;
 * - per channel and thread, one bit per subscriber of that thread: the thread's own row, written
 *   only by that thread (and, after it died, by the recovery on the main thread).
 *
 * Bits are set and cleared with Atomics.or / Atomics.and: threads share the words of the first
 * level.
 */
export class Subscriptions {
  readonly endpoints: number;
  readonly maskWords: number;
  readonly subscriberWords: number;
  readonly #masks: Int32Array;
  readonly #rows: Int32Array;
  readonly #channels: number;

  /** Bytes for `channels` channels, `endpoints` threads and `subscribers` per thread. */
  static bytesFor(channels: number, endpoints: number, subscribers: number): number {
    return 4 * channels * (Math.ceil(endpoints / 32) + endpoints * Math.ceil(subscribers / 32));
  }

  constructor(
    buffer: SharedArrayBuffer,
    byteOffset: number,
    channels: number,
    endpoints: number,
    subscribers: number,
  ) {
    this.endpoints = endpoints;
    this.maskWords = Math.ceil(endpoints / 32);
    this.subscriberWords = Math.ceil(subscribers / 32);
    this.#channels = channels;
    this.#masks = new Int32Array(buffer, byteOffset, channels * this.maskWords);
    this.#rows = new Int32Array(
      buffer,
      byteOffset + 4 * channels * this.maskWords,
      channels * endpoints * this.subscriberWords,
    );
  }

  /** Writes the threads with subscribers of `channel` into `into`; returns how many. */
  endpointsOf(channel: number, into: Int32Array): number {
    const masks = this.#masks;
    let count = 0;
    for (let w = 0; w < this.maskWords; w++) {
      let bits = Atomics.load(masks, channel * this.maskWords + w);
      while (bits !== 0) {
        const low = bits & -bits;
        into[count++] = 32 * w + 31 - Math.clz32(low);
        bits ^= low;
      }
    }
    return count;
  }

  /** Subscribes subscriber `subscriber` of thread `endpoint` to `channel`. */
  add(channel: number, endpoint: number, subscriber: number): void {
    const row = this.#row(channel, endpoint);
    Atomics.or(this.#rows, row + (subscriber >> 5), 1 << (subscriber & 31));
    Atomics.or(this.#masks, channel * this.maskWords + (endpoint >> 5), 1 << (endpoint & 31));
  }

  /** Unsubscribes; the thread's bit goes when its last subscriber of `channel` does. */
  remove(channel: number, endpoint: number, subscriber: number): void {
    const row = this.#row(channel, endpoint);
    Atomics.and(this.#rows, row + (subscriber >> 5), ~(1 << (subscriber & 31)));
    if (this.#rowEmpty(row)) {
      Atomics.and(this.#masks, channel * this.maskWords + (endpoint >> 5), ~(1 << (endpoint & 31)));
    }
  }

  /** Subscribers of `channel` over all threads. */
  count(channel: number): number {
    let count = 0;
    for (let endpoint = 0; endpoint < this.endpoints; endpoint++) {
      count += this.countOn(channel, endpoint);
    }
    return count;
  }

  /** Subscribers of `channel` on thread `endpoint`. */
  countOn(channel: number, endpoint: number): number {
    const row = this.#row(channel, endpoint);
    let count = 0;
    for (let w = 0; w < this.subscriberWords; w++)
      count += popcount(Atomics.load(this.#rows, row + w));
    return count;
  }

  /** Clears every subscription of thread `endpoint` (it died). */
  clearEndpoint(endpoint: number): void {
    for (let channel = 0; channel < this.#channels; channel++) {
      const row = this.#row(channel, endpoint);
      for (let w = 0; w < this.subscriberWords; w++) Atomics.store(this.#rows, row + w, 0);
      Atomics.and(this.#masks, channel * this.maskWords + (endpoint >> 5), ~(1 << (endpoint & 31)));
    }
  }

  #row(channel: number, endpoint: number): number {
    return (channel * this.endpoints + endpoint) * this.subscriberWords;
  }

  #rowEmpty(row: number): boolean {
    for (let w = 0; w < this.subscriberWords; w++) {
      if (Atomics.load(this.#rows, row + w) !== 0) return false;
    }
    return true;
  }
}

function popcount(word: number): number {
  let bits = word - ((word >>> 1) & 0x55555555);
  bits = (bits & 0x33333333) + ((bits >>> 2) & 0x33333333);
  return (Math.imul((bits + (bits >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}
