/**
 * MessageTable: the messages in flight — one header and one body reference per message, shared
 * by every delivery.
 *
 * A send writes the body once into IOBuf blocks and the header into a slot of this table; each
 * thread with subscribers gets the slot number in its queue. The slot counts the threads that
 * still hold it (REFS, atomic); each thread counts its own subscribers' deliveries in plain memory
 * (see ChannelEndpoint), so a message to 64 subscribers on 2 threads costs 2 atomic decrements,
 * not 64. The last thread to let go releases the body's block reference and frees the slot.
 *
 * Header words (the seed's message format, with the body kind where its opcode was — join and
 * leave are bitmap writes here, not messages, see the README):
 *
 *     REFS | META (kind, body form, origin) | CHANNEL | A | B | LENGTH | TIME (float64, 2 words)
 *     | SEQUENCE (its number among its channel's messages)
 *
 * The body is one piece (A = block, B = offset), or for a body in several pieces (or user data,
 * which `share` copies into blocks) an IOBuf hand-over record (A, B = the record id's low and high halves), which every thread reads without
 * taking it, and the last one takes and releases.
 *
 * `held` has one bit per message and thread: set while that thread holds the message, so that
 * when a worker dies the main thread knows what it held and lets go for it.
 */
import { IOBuf, type IOBufPool } from '@weft/iobuf';
import { alignToLine, SlotPool } from '@weft/shm';

const REFS = 0;
const META = 1;
const CHANNEL = 2;
const A = 3;
const B = 4;
const LENGTH = 5;
const TIME = 6;
const SEQUENCE = 8;
// (A multiple of 2, so that TIME stays 8-byte aligned in every slot.)
const WORDS = 12;

/** What the body was sent as, so that it is received as the same type. */
export const Kind = { STRING: 0, BYTES: 1, IOBUF: 2 } as const;
const KIND_MASK = 3;
const IN_RECORD = 4;
const ORIGIN_SHIFT = 8;
/** The block of an empty body. */
const NO_BLOCK = -1;

/**
 * Where the epoch is on process.hrtime's clock, in ms: taken once for a hub. hrtime is one
 * monotonic clock for every thread of a process; `performance.timeOrigin` is not — each thread
 * sets its own at start, and they differ here by up to ~3 ms, too much to time a message.
 */
export function epochOfHrtime(): number {
  return Date.now() - Number(process.hrtime.bigint()) / 1e6;
}

// What to add to this thread's performance.now() to get ms since the epoch on the hub's clock.
function timeBase(hrtimeEpoch: number): number {
  return hrtimeEpoch + Number(process.hrtime.bigint()) / 1e6 - performance.now();
}

export class MessageTable {
  readonly capacity: number;
  readonly slots: SlotPool;
  readonly words: Int32Array;
  readonly times: Float64Array;
  readonly #held: Int32Array;
  readonly #heldWords: number;
  readonly #pool: IOBufPool;
  // performance.now() + this = ms since the epoch, the same on every thread (see `timeBase`).
  readonly #timeBase: number;

  /** Bytes for `capacity` messages and `endpoints` threads. */
  static bytesFor(capacity: number, endpoints: number): number {
    return (
      alignToLine(SlotPool.bytesFor(capacity)) +
      4 * WORDS * capacity +
      4 * endpoints * Math.ceil(capacity / 32)
    );
  }

  /** Lays out an empty table (its slot pool) at `byteOffset`; threads then construct views. */
  static create(buffer: SharedArrayBuffer, byteOffset: number, capacity: number): void {
    SlotPool.create(buffer, byteOffset, capacity);
  }

  constructor(
    buffer: SharedArrayBuffer,
    byteOffset: number,
    capacity: number,
    endpoints: number,
    pool: IOBufPool,
    hrtimeEpoch: number,
  ) {
    this.capacity = capacity;
    this.#timeBase = timeBase(hrtimeEpoch);
    this.slots = SlotPool.attach(buffer, byteOffset);
    const fields = byteOffset + alignToLine(SlotPool.bytesFor(capacity));
    this.words = new Int32Array(buffer, fields, WORDS * capacity);
    this.times = new Float64Array(buffer, fields, (WORDS / 2) * capacity);
    this.#heldWords = Math.ceil(capacity / 32);
    this.#held = new Int32Array(buffer, fields + 4 * WORDS * capacity, endpoints * this.#heldWords);
    this.#pool = pool;
  }

  /**
   * A new message of `channel` whose body is `body` (copied into blocks if it is not an IOBuf),
   * for `threads` threads; returns its slot, or -1 if the table is full. `scratch` is an empty
   * IOBuf of this thread, used for text and bytes and left empty.
   */
  add(
    channel: number,
    sequence: number,
    kind: number,
    body: string | Uint8Array | IOBuf,
    scratch: IOBuf,
    origin: number,
    threads: number,
  ): number {
    const id = this.slots.alloc();
    if (id === -1) return -1;
    const slot = id >>> 0;
    const words = this.words;
    const at = slot * WORDS;
    // Text, bytes and IOBufs of another pool are copied into this thread's blocks once.
    const source = body instanceof IOBuf && body.pool === this.#pool ? body : scratch;
    let form = 0;
    try {
      if (source === scratch) scratch.append(body);
      const pieces = source.pieces;
      if (pieces === 0) {
        words[at + A] = NO_BLOCK;
        words[at + LENGTH] = 0;
      } else if (pieces === 1 && !source.holdsUserData) {
        source.exportPieces(words, at + A); // block, offset and length, from A on
      } else {
        const { record } = source.share();
        words[at + A] = record >>> 0;
        words[at + B] = Math.floor(record / 2 ** 32);
        words[at + LENGTH] = source.length;
        form = IN_RECORD;
      }
    } catch (error) {
      this.slots.free(id);
      throw error;
    } finally {
      if (source === scratch) scratch.clear();
    }
    words[at + CHANNEL] = channel;
    words[at + SEQUENCE] = sequence;
    words[at + META] = kind | form | (origin << ORIGIN_SHIFT);
    this.times[slot * (WORDS / 2) + TIME / 2] = this.#timeBase + performance.now();
    Atomics.store(words, at + REFS, threads);
    return slot;
  }

  channelOf(slot: number): number {
    return this.words[slot * WORDS + CHANNEL];
  }

  sequenceOf(slot: number): number {
    return this.words[slot * WORDS + SEQUENCE];
  }

  kindOf(slot: number): number {
    return this.words[slot * WORDS + META] & KIND_MASK;
  }

  originOf(slot: number): number {
    return this.words[slot * WORDS + META] >>> ORIGIN_SHIFT;
  }

  timeOf(slot: number): number {
    return this.times[slot * (WORDS / 2) + TIME / 2];
  }

  lengthOf(slot: number): number {
    return this.words[slot * WORDS + LENGTH];
  }

  /** True if the body is one piece: `blockOf` and `offsetOf` say where. */
  isInline(slot: number): boolean {
    return (this.words[slot * WORDS + META] & IN_RECORD) === 0;
  }

  blockOf(slot: number): number {
    return this.words[slot * WORDS + A];
  }

  offsetOf(slot: number): number {
    return this.words[slot * WORDS + B];
  }

  /** The body as a new IOBuf of this thread (no byte copied). */
  bodyAsIOBuf(slot: number): IOBuf {
    const at = slot * WORDS;
    if (this.isInline(slot)) {
      const buf = new IOBuf(this.#pool);
      return this.words[at + A] === NO_BLOCK ? buf : buf.appendPieces(this.words, at + A, 1);
    }
    return IOBuf.viewShared(this.#descriptor(slot));
  }

  /** Drops one thread's reference to message `slot`; the last one frees it. */
  unref(slot: number): void {
    if (Atomics.sub(this.words, slot * WORDS + REFS, 1) === 1) this.#free(slot);
  }

  /** Marks message `slot` as held by thread `endpoint`. */
  hold(endpoint: number, slot: number): void {
    const word = endpoint * this.#heldWords + (slot >> 5);
    this.#held[word] |= 1 << (slot & 31);
  }

  /** Thread `endpoint` lets go of message `slot`; the last thread frees it. */
  letGo(endpoint: number, slot: number): void {
    const word = endpoint * this.#heldWords + (slot >> 5);
    this.#held[word] &= ~(1 << (slot & 31));
    this.unref(slot);
  }

  /** Lets go of every message thread `endpoint` held (it died); returns how many. */
  letGoAll(endpoint: number): number {
    let count = 0;
    for (let w = 0; w < this.#heldWords; w++) {
      let bits = this.#held[endpoint * this.#heldWords + w];
      this.#held[endpoint * this.#heldWords + w] = 0;
      while (bits !== 0) {
        const low = bits & -bits;
        this.unref(32 * w + 31 - Math.clz32(low));
        bits ^= low;
        count++;
      }
    }
    return count;
  }

  #descriptor(slot: number) {
    const at = slot * WORDS;
    const record = (this.words[at + B] >>> 0) * 2 ** 32 + (this.words[at + A] >>> 0);
    return { pool: this.#pool.handle, record, length: this.words[at + LENGTH] };
  }

  // The last reference went: give the body back and free the slot.
  #free(slot: number): void {
    if (this.isInline(slot)) {
      const block = this.blockOf(slot);
      if (block !== NO_BLOCK) this.#pool.blocks.release(block);
    } else IOBuf.fromShared(this.#descriptor(slot)).release();
    this.slots.free(this.slots.idAt(slot));
  }
}
