// Numbered message bodies for the channels tests, and the checker that every subscriber (fiber or
// main thread) runs: each sender's messages exactly once, in order, with their exact content.

import { IOBuf, type IOBufPool } from '@weft/iobuf';

/** How a sender sends its bodies; a receiver must get the same type back. */
export type Mode = 'string' | 'bytes' | 'iobuf';

/** The sequence number of a sender's last message on a channel (its end marker). */
export const END = 0x7fffffff;

/** The bytes of a binary body: sender (4 bytes), seq (4 bytes), then a pattern. */
export function byteLength(mode: Mode, seq: number): number {
  if (seq === END) return 8;
  if (mode === 'iobuf') {
    // Every third body spans three 8 KiB blocks; the others are small.
    return seq % 3 === 0 ? 20 * 1024 + (seq % 7) : 8 + (seq % 200);
  }
  // Now and then a body bigger than a block (several pieces).
  return seq % 97 === 5 ? 9000 + (seq % 11) : 8 + (seq % 13) * 5;
}

function patternByte(sender: number, seq: number, at: number): number {
  return (seq * 7 + at * 13 + sender) & 255;
}

/** A binary body. */
export function bodyBytes(mode: Mode, sender: number, seq: number): Uint8Array {
  const bytes = new Uint8Array(byteLength(mode, seq));
  const view = new DataView(bytes.buffer);
  view.setUint32(0, sender, true);
  view.setUint32(4, seq, true);
  for (let at = 8; at < bytes.length; at++) bytes[at] = patternByte(sender, seq, at);
  return bytes;
}

/** A text body: "sender:seq", now and then with a long tail of 2-byte characters. */
export function bodyText(sender: number, seq: number): string {
  if (seq === END) return `${sender}:end`;
  return seq % 101 === 7 ? `${sender}:${seq}:${'ü'.repeat(5000 + (seq % 5))}` : `${sender}:${seq}`;
}

/** The body of message `seq` of `sender` (an IOBuf of `pool` in 'iobuf' mode: release it after sending). */
export function encode(
  mode: Mode,
  sender: number,
  seq: number,
  pool?: IOBufPool,
): string | Uint8Array | IOBuf {
  if (mode === 'string') return bodyText(sender, seq);
  const bytes = bodyBytes(mode, sender, seq);
  return mode === 'bytes' ? bytes : IOBuf.from(bytes, pool);
}

/** What a body says; `error` when it is not what a sender sent. Releases an IOBuf body. */
export interface Decoded {
  mode: Mode;
  sender: number;
  seq: number;
  error?: string;
}

export function decode(data: unknown): Decoded {
  if (typeof data === 'string') {
    const [sender, seq, tail] = data.split(':');
    const decoded: Decoded = {
      mode: 'string',
      sender: Number(sender),
      seq: seq === 'end' ? END : Number(seq),
    };
    if (!Number.isInteger(decoded.sender) || !Number.isInteger(decoded.seq)) {
      decoded.error = `bad text body ${JSON.stringify(data.slice(0, 40))}`;
    } else if (data !== bodyText(decoded.sender, decoded.seq)) {
      decoded.error = `text body of ${sender}:${seq} is wrong (${data.length} chars, tail ${tail?.length})`;
    }
    return decoded;
  }
  let bytes: Uint8Array;
  let mode: Mode;
  if (data instanceof IOBuf) {
    mode = 'iobuf';
    bytes = data.toBuffer();
    data.release();
  } else if (data instanceof Uint8Array) {
    mode = 'bytes';
    bytes = data;
    if (Object.getPrototypeOf(data) !== Uint8Array.prototype) {
      return { mode, sender: -1, seq: -1, error: 'a Uint8Array subclass was received' };
    }
    if (data.buffer instanceof SharedArrayBuffer) {
      return { mode, sender: -1, seq: -1, error: 'received bytes share memory' };
    }
  } else {
    return { mode: 'string', sender: -1, seq: -1, error: `a body of type ${typeof data}` };
  }
  if (bytes.length < 8) return { mode, sender: -1, seq: -1, error: `a ${bytes.length}-byte body` };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const sender = view.getUint32(0, true);
  const seq = view.getUint32(4, true);
  const decoded: Decoded = { mode, sender, seq };
  const expected = byteLength(mode, seq);
  if (bytes.length !== expected) {
    decoded.error = `body ${sender}:${seq} has ${bytes.length} bytes, not ${expected}`;
    return decoded;
  }
  for (let at = 8; at < bytes.length; at++) {
    if (bytes[at] !== patternByte(sender, seq, at)) {
      decoded.error = `body ${sender}:${seq} differs at byte ${at}`;
      break;
    }
  }
  return decoded;
}

/** What a checked subscriber reports. */
export interface CheckReport {
  /** The group it ran on (-1: the main thread). */
  group: number;
  /** Messages received per channel and sender (end markers not counted). */
  counts: Record<string, number[]>;
  /** The first problems seen (out of order, duplicates, bad bodies, wrong types). */
  errors: string[];
  notifications: number;
  dropped: number;
}

/**
 * Checks a stream of messages: for each channel and sender, sequence numbers 0, 1, 2... in order
 * (strictly: `gapsAllowed` accepts any increasing sequence, for subscribers that come and go),
 * bodies intact and of the sender's type, up to each sender's end marker.
 */
export class SequenceChecker {
  readonly #modes: Mode[];
  readonly #gapsAllowed: boolean;
  readonly #next = new Map<string, number[]>();
  readonly counts: Record<string, number[]> = {};
  readonly errors: string[] = [];
  #ended = 0;
  readonly #endsExpected: number;

  constructor(channels: readonly string[], modes: Mode[], gapsAllowed = false) {
    this.#modes = modes;
    this.#gapsAllowed = gapsAllowed;
    for (const channel of channels) {
      this.#next.set(
        channel,
        modes.map(() => 0),
      );
      this.counts[channel] = modes.map(() => 0);
    }
    this.#endsExpected = channels.length * modes.length;
  }

  /** True once every sender's end marker arrived on every channel. */
  get done(): boolean {
    return this.#ended === this.#endsExpected;
  }

  /** Checks one received message (releasing an IOBuf body). */
  take(channel: string, data: unknown): void {
    const problem = this.#check(channel, decode(data));
    if (problem !== undefined && this.errors.length < 10) this.errors.push(problem);
  }

  // Counts a message; what is wrong with it, if anything.
  #check(channel: string, decoded: Decoded): string | undefined {
    const next = this.#next.get(channel);
    if (next === undefined) return `a message on channel ${channel}, not joined`;
    if (decoded.error !== undefined) return `${channel}: ${decoded.error}`;
    const { sender, seq, mode } = decoded;
    if (!(sender >= 0 && sender < this.#modes.length)) {
      return `${channel}: unknown sender ${sender}`;
    }
    if (mode !== this.#modes[sender]) {
      return `${channel}: sender ${sender} sent ${this.#modes[sender]}, got ${mode}`;
    }
    const expected = next[sender];
    if (expected === -1) return `${channel}: ${sender}:${seq} after the end marker`;
    if (seq === END) {
      next[sender] = -1;
      this.#ended++;
      return undefined;
    }
    if (seq !== expected && !(this.#gapsAllowed && seq > expected)) {
      return (
        `${channel}: sender ${sender} sent ${seq} where ${expected} was expected` +
        (seq < expected ? ' (a duplicate or out of order)' : ' (messages lost)')
      );
    }
    next[sender] = seq + 1;
    this.counts[channel][sender]++;
    return undefined;
  }
}

/** A sample of every kind of body, sent one after the other by the edge-case tests. */
export function samples(pool: IOBufPool): (string | Uint8Array | IOBuf)[] {
  const big = bodyBytes('iobuf', 3, 0); // 20 KiB
  const shared = new Uint8Array(new SharedArrayBuffer(300));
  shared.fill(9);
  const wide = new Uint8Array(100).map((_, i) => i);
  return [
    '',
    'plain',
    'é€😀 mixed widths',
    'x'.repeat(20_000),
    '€'.repeat(9000), // 27,000 bytes: 3-byte characters over several blocks
    new Uint8Array(0),
    Uint8Array.of(1, 2, 3),
    Buffer.from('a Buffer'),
    wide.subarray(10, 30), // a view into a larger buffer
    shared,
    big,
    new IOBuf(pool),
    IOBuf.from('small iobuf', pool),
    IOBuf.from(big, pool),
  ];
}

/** A description of a body to compare sent and received ones: type and bytes. */
export function describeBody(data: unknown): { type: string; hex: string } {
  if (typeof data === 'string') return { type: 'string', hex: Buffer.from(data).toString('hex') };
  if (data instanceof IOBuf) return { type: 'iobuf', hex: data.toBuffer().toString('hex') };
  if (data instanceof Uint8Array) {
    return {
      type: 'bytes',
      hex: Buffer.from(data.buffer, data.byteOffset, data.length).toString('hex'),
    };
  }
  return { type: typeof data, hex: '' };
}
