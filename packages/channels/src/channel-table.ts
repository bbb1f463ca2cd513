/**
 * ChannelTable: channel names interned into small ids, in shared memory.
 *
 * Messages, subscriptions and statistics name a channel by its id — an index into this table —
 * so a send compares no strings and a message header carries one int32 (the seed's
 * `char channel[255]` becomes a number). The table is open addressing over FNV-1a hashes and
 * insert-only: an entry goes EMPTY → WRITING (claimed by one CAS) → READY, and a reader that meets
 * WRITING waits the few nanoseconds until the writer publishes. Names are never removed, as
 * Erlang's atoms are not: a slot freed while a message still named it would make that message
 * name another channel. `maxChannels` bounds them (E_CAPACITY names the option).
 *
 * Each entry also holds the channel's overflow policy, how many deliveries it dropped, and its
 * send sequence: each message of the channel takes the next number, so that a subscriber that
 * joins knows which messages were sent before it (see ChannelEndpoint).
 */
import { ErrorCode, WeftError, WeftRangeError, WeftTypeError } from '@weft/shm';

/** What happens when a subscriber's queue is full (see the README's "Overflow"). */
export type OverflowPolicy = 'block' | 'drop-oldest' | 'drop-newest' | 'error';

/** A channel's policy as stored: DEFAULT means "block" for fibers, "error" for other threads. */
export const Policy = { DEFAULT: 0, BLOCK: 1, DROP_OLDEST: 2, DROP_NEWEST: 3, ERROR: 4 } as const;
const POLICY_NAMES: OverflowPolicy[] = ['block', 'drop-oldest', 'drop-newest', 'error'];

/** The longest name, in UTF-8 bytes (the seed's `char channel[255]`). */
const MAX_NAME_BYTES = 255;
const NAME_STRIDE = 256;

// Words of an entry.
const STATE = 0;
const HASH = 1;
const LENGTH = 2;
const POLICY = 3;
const DROPPED = 4;
const SEQUENCE = 5;
/** Int32 words per entry. */
const ENTRY_WORDS = 8;

const EMPTY = 0;
const WRITING = 1;
const READY = 2;

const encoder = new TextEncoder();
const scratch = new Uint8Array(NAME_STRIDE * 3);

/** Bytes the table needs for `capacity` channels: its entries, then its name bytes. */
export function channelTableBytes(capacity: number): number {
  return capacity * (ENTRY_WORDS * 4 + NAME_STRIDE);
}

export class ChannelTable {
  readonly capacity: number;
  readonly #entries: Int32Array;
  readonly #names: Uint8Array;
  // This thread's memory of the table: names it looked up, and names by id.
  readonly #ids = new Map<string, number>();
  // Sized up front: writes at scattered ids would turn a growing array into a slow dictionary.
  readonly #nameById: (string | undefined)[];

  constructor(buffer: SharedArrayBuffer, byteOffset: number, capacity: number) {
    this.capacity = capacity;
    this.#nameById = new Array<string | undefined>(capacity).fill(undefined);
    this.#entries = new Int32Array(buffer, byteOffset, capacity * ENTRY_WORDS);
    this.#names = new Uint8Array(
      buffer,
      byteOffset + capacity * ENTRY_WORDS * 4,
      capacity * NAME_STRIDE,
    );
  }

  /** The id of channel `name`, adding it if it is new. Checks the name (see `encode`). */
  intern(name: string): number {
    return this.#ids.get(name) ?? this.#find(name, true);
  }

  /** The id of channel `name`, or -1 if no thread ever added it. Checks the name. */
  lookup(name: string): number {
    return this.#ids.get(name) ?? this.#find(name, false);
  }

  /** The name of channel `id`. */
  nameOf(id: number): string {
    const known = this.#nameById[id];
    if (known !== undefined) return known;
    const at = id * ENTRY_WORDS;
    const length = this.#entries[at + LENGTH];
    const bytes = this.#names.slice(id * NAME_STRIDE, id * NAME_STRIDE + length);
    const name = new TextDecoder().decode(bytes);
    this.#remember(name, id);
    return name;
  }

  /** The stored policy of channel `id` (a Policy number). */
  policy(id: number): number {
    return Atomics.load(this.#entries, id * ENTRY_WORDS + POLICY);
  }

  setPolicy(id: number, policy: number): void {
    Atomics.store(this.#entries, id * ENTRY_WORDS + POLICY, policy);
  }

  /** Counts `count` deliveries of channel `id` that its policy dropped. */
  addDropped(id: number, count: number): void {
    Atomics.add(this.#entries, id * ENTRY_WORDS + DROPPED, count);
  }

  dropped(id: number): number {
    return Atomics.load(this.#entries, id * ENTRY_WORDS + DROPPED);
  }

  /** Takes channel `id`'s next send sequence number (int32, wrapping). */
  nextSequence(id: number): number {
    return Atomics.add(this.#entries, id * ENTRY_WORDS + SEQUENCE, 1);
  }

  /** The sequence number channel `id`'s next message will take. */
  sequence(id: number): number {
    return Atomics.load(this.#entries, id * ENTRY_WORDS + SEQUENCE);
  }

  /** Ids of every channel added so far. */
  ids(): number[] {
    const ids: number[] = [];
    for (let id = 0; id < this.capacity; id++) {
      if (Atomics.load(this.#entries, id * ENTRY_WORDS + STATE) === READY) ids.push(id);
    }
    return ids;
  }

  #remember(name: string, id: number): void {
    this.#ids.set(name, id);
    this.#nameById[id] = name;
  }

  #find(name: string, insert: boolean): number {
    const length = encode(name);
    let hash = 0x811c9dc5;
    for (let i = 0; i < length; i++) hash = Math.imul(hash ^ scratch[i], 0x01000193);
    hash |= 1; // never 0, so a zero word reads as "not written yet"
    const entries = this.#entries;
    const start = (hash >>> 0) % this.capacity;
    for (let probe = 0; probe < this.capacity; probe++) {
      const id = (start + probe) % this.capacity;
      const at = id * ENTRY_WORDS;
      let state = Atomics.load(entries, at + STATE);
      if (state === EMPTY) {
        if (!insert) return -1;
        state = Atomics.compareExchange(entries, at + STATE, EMPTY, WRITING);
        if (state === EMPTY) {
          this.#names.set(scratch.subarray(0, length), id * NAME_STRIDE);
          entries[at + HASH] = hash;
          entries[at + LENGTH] = length;
          Atomics.store(entries, at + STATE, READY);
          this.#remember(name, id);
          return id;
        }
      }
      // Another thread is writing this entry: its name decides whether it is ours.
      while (state === WRITING) state = Atomics.load(entries, at + STATE);
      if (
        entries[at + HASH] === hash &&
        entries[at + LENGTH] === length &&
        this.#sameName(id, length)
      ) {
        this.#remember(name, id);
        return id;
      }
    }
    if (!insert) return -1;
    throw new WeftError(
      ErrorCode.CAPACITY,
      `no room for channel "${name}": all ${this.capacity} channel names are taken (names are ` +
        'never removed); raise the `maxChannels` option',
    );
  }

  #sameName(id: number, length: number): boolean {
    const names = this.#names;
    const base = id * NAME_STRIDE;
    for (let i = 0; i < length; i++) if (names[base + i] !== scratch[i]) return false;
    return true;
  }
}

/** The policy name of a stored policy (DEFAULT resolved by `fiber`). */
export function policyName(policy: number, fiber: boolean): OverflowPolicy {
  if (policy === Policy.DEFAULT) return fiber ? 'block' : 'error';
  return POLICY_NAMES[policy - 1];
}

/** The stored number of a policy name; E_INVALID_ARGUMENT for anything else. */
export function policyNumber(policy: unknown): number {
  const at = POLICY_NAMES.indexOf(policy as OverflowPolicy);
  if (at < 0) {
    throw new WeftTypeError(
      ErrorCode.INVALID_ARGUMENT,
      `overflow must be one of ${POLICY_NAMES.map((name) => `'${name}'`).join(', ')}, got ${String(policy)}`,
    );
  }
  return at + 1;
}

/**
 * Encodes a channel name into the scratch buffer and returns its byte length. A name is a
 * non-empty, well-formed string of at most 255 UTF-8 bytes: E_INVALID_ARGUMENT or E_OUT_OF_RANGE
 * otherwise.
 */
function encode(name: string): number {
  if (typeof name !== 'string' || name.length === 0) {
    throw new WeftTypeError(
      ErrorCode.INVALID_ARGUMENT,
      `a channel name must be a non-empty string, got ${typeof name === 'string' ? 'an empty string' : typeof name}`,
    );
  }
  if (!name.isWellFormed()) {
    // UTF-8 has no lone surrogates: encoding would turn them into U+FFFD, and two names would
    // share one channel.
    throw new WeftTypeError(
      ErrorCode.INVALID_ARGUMENT,
      'a channel name must be well-formed Unicode (it has a lone surrogate)',
    );
  }
  const { read, written } = encoder.encodeInto(name, scratch);
  if (read < name.length || written > MAX_NAME_BYTES) {
    throw new WeftRangeError(
      ErrorCode.OUT_OF_RANGE,
      `a channel name is at most ${MAX_NAME_BYTES} UTF-8 bytes; "${name.slice(0, 40)}…" has ${Buffer.byteLength(name)}`,
    );
  }
  return written;
}
