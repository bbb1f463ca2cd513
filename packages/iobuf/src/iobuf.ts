/**
 * IOBuf: a byte sequence made of references into shared blocks (brpc's IOBuf).
 *
 * An IOBuf is a list of (block, offset, length) references — flattened into one number array
 * with a moving start index, which modern V8 handles better than linked nodes or a ring of
 * objects — and its total length, so `length` is O(1) and cuts never rescan from the start.
 *
 * - Appending bytes copies them into the thread's write block and adds a reference, or extends
 *   the last one when the new bytes follow it in the same block: small appends cost no reference.
 * - Appending an IOBuf, cutting (`cutn`, `cutInto`, `cutUntil`), and popping move references:
 *   no byte is copied. A reference split in two gains a hold on its block.
 * - Reads at an offset (`readUInt32BE(offset)` and friends) find the reference that holds the
 *   offset, read in place when the bytes are contiguous, and gather them when they straddle.
 * - `share()` or `transfer()`, then `IOBuf.fromShared()`, hand the references to another thread
 *   (handoff-record.ts).
 *
 * Every IOBuf belongs to one pool view, that is to one thread. `release()` (or `using`) gives its
 * references back; later use is E_RELEASED. Views returned by `peek` and `slices` point into
 * block memory: they are valid while this IOBuf holds those blocks.
 *
 * Sizes: cuts and pops take "up to n" bytes and return what they took; reads and peeks of an
 * explicit size beyond the end are RangeErrors. Sizes must be whole numbers from 0 (RangeError).
 */
import { describe, ErrorCode, WeftError, WeftRangeError, WeftTypeError } from '@weft/shm';
import { type Delimiter, requireSize, toNeedle } from './arguments.ts';
import type { BlockPoolHandle } from './block-pool.ts';
import { peekRecord, readRecord, writeRecord } from './handoff-record.ts';
import { IOBufPool } from './iobuf-pool.ts';

/** What `share()` returns: plain data for another thread's `IOBuf.fromShared`. */
export interface SharedIOBuf {
  /** The pool the blocks belong to. */
  pool: BlockPoolHandle;
  /** The hand-over record's versioned id. */
  record: number;
  /** Bytes in the IOBuf. */
  length: number;
}

/** What can be appended: bytes (copied), text (UTF-8, copied) or an IOBuf (shared). */
export type Appendable = Uint8Array | ArrayBufferView | string | IOBuf;

// Reads that straddle references are gathered here (8 bytes: the widest integer read).
const scratch = new Uint8Array(8);
const scratchView = new DataView(scratch.buffer);

/** Compact the reference array once this many leading triples are consumed and they are half. */
const COMPACT_AFTER = 48;

export class IOBuf {
  readonly #pool: IOBufPool;
  // (block, offset, length) triples in [#first, #end). The array only grows (shrinking and
  // regrowing it would allocate on every clear); triples outside the range have block -1, so that
  // the leak net, which sees the whole array, drops only live ones.
  readonly #refs: number[] = [];
  #first = 0;
  #end = 0;
  #length = 0;
  // The leak net's generation when it started watching this IOBuf; -1 before.
  #trackedIn = -1;
  #released = false;
  // Where #locate found an offset: the triple's index and the offset within it.
  #foundAt = 0;
  #foundInside = 0;

  /** An empty IOBuf of `pool` (default: this thread's default pool). */
  constructor(pool: IOBufPool = IOBufPool.default()) {
    if (!(pool instanceof IOBufPool)) {
      throw new WeftTypeError(
        ErrorCode.INVALID_ARGUMENT,
        `an IOBuf needs an IOBufPool, got ${describe(pool)}`,
      );
    }
    this.#pool = pool;
  }

  /** An IOBuf holding a copy of `data`. */
  static from(data: Appendable, pool?: IOBufPool): IOBuf {
    return new IOBuf(pool).append(data);
  }

  /**
   * Takes up an IOBuf that another thread shared: an IOBuf over the same blocks, no byte copied.
   * Each descriptor is taken once; a second take, a stale or a forged descriptor is E_STALE_ID.
   */
  static fromShared(shared: SharedIOBuf): IOBuf {
    const record = (shared as SharedIOBuf | null)?.record;
    if (typeof record !== 'number' || typeof shared.length !== 'number') {
      throw new WeftTypeError(
        ErrorCode.INVALID_ARGUMENT,
        `IOBuf.fromShared needs what share() returned, got ${describe(shared)}`,
      );
    }
    const pool = IOBufPool.attach(shared.pool);
    const buf = new IOBuf(pool);
    const refs = buf.#refs;
    readRecord(pool.blocks, record, refs);
    let length = 0;
    for (let i = 0; i < refs.length; i += 3) {
      pool.adopt(refs[i]);
      length += refs[i + 2];
    }
    buf.#end = refs.length;
    buf.#length = length;
    if (length > 0) {
      buf.#trackedIn = pool.leakNet.track(buf, refs);
    }
    return buf;
  }

  /**
   * An IOBuf over the bytes of a shared descriptor that leaves the descriptor in place, so that
   * several threads can each read one descriptor (a message delivered to many subscribers). The
   * caller must keep the descriptor from being taken (`fromShared`) during the call; the IOBuf
   * returned holds its blocks on its own. E_STALE_ID if the descriptor is taken, stale or forged.
   */
  static viewShared(shared: SharedIOBuf): IOBuf {
    const record = (shared as SharedIOBuf | null)?.record;
    if (typeof record !== 'number') {
      throw new WeftTypeError(
        ErrorCode.INVALID_ARGUMENT,
        `IOBuf.viewShared needs what share() returned, got ${describe(shared)}`,
      );
    }
    const pool = IOBufPool.attach(shared.pool);
    const pieces: number[] = [];
    peekRecord(pool.blocks, record, pieces);
    return new IOBuf(pool).appendPieces(pieces, 0, pieces.length / 3);
  }

  /** Bytes in this IOBuf. */
  get length(): number {
    this.#live();
    return this.#length;
  }

  /** References (block pieces) this IOBuf is made of. */
  get pieces(): number {
    this.#live();
    return (this.#end - this.#first) / 3;
  }

  /** The pool view this IOBuf belongs to. */
  get pool(): IOBufPool {
    return this.#pool;
  }

  // ---- appending ----

  /** Appends bytes or text (copied into blocks) or an IOBuf (its references, no copy). */
  append(data: Appendable): this {
    this.#live();
    if (data instanceof Uint8Array) {
      this.#appendBytes(data, 0, data.length);
    } else if (typeof data === 'string') {
      this.#appendText(data);
    } else if (data instanceof IOBuf) {
      data.#live();
      this.#appendRange(data, 0, data.#length);
    } else if (ArrayBuffer.isView(data)) {
      this.#appendBytes(
        new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
        0,
        data.byteLength,
      );
    } else {
      throw new WeftTypeError(
        ErrorCode.INVALID_ARGUMENT,
        `IOBuf.append takes a Uint8Array, a string or an IOBuf, got ${describe(data)}`,
      );
    }
    return this;
  }

  /**
   * Appends memory the caller owns, without copying it. `onRelease` runs once no IOBuf refers to
   * it any more (the caller may then reuse it). It stays on this thread: `share()` copies it.
   */
  appendUserData(bytes: Uint8Array, onRelease?: () => void): this {
    this.#live();
    if (!(bytes instanceof Uint8Array)) {
      throw new WeftTypeError(
        ErrorCode.INVALID_ARGUMENT,
        `appendUserData takes a Uint8Array, got ${describe(bytes)}`,
      );
    }
    if (onRelease !== undefined && typeof onRelease !== 'function') {
      throw new WeftTypeError(
        ErrorCode.INVALID_ARGUMENT,
        `appendUserData's onRelease must be a function, got ${describe(onRelease)}`,
      );
    }
    if (bytes.length === 0) {
      onRelease?.();
      return this;
    }
    const block = this.#pool.addUserData(bytes, onRelease);
    this.#pool.hold(block);
    this.#pushHeld(block, 0, bytes.length);
    return this;
  }

  #appendBytes(source: Uint8Array, start: number, end: number): void {
    const pool = this.#pool;
    let at = start;
    while (at < end) {
      const block = pool.writeBlock(); // (may grow the buffer: read pool.bytes after it)
      const offset = pool.writeCursor;
      const count = Math.min(end - at, pool.blockSize - offset);
      const piece = at === 0 && count === source.length ? source : source.subarray(at, at + count);
      pool.bytes.set(piece, pool.baseOf(block) + offset);
      pool.wrote(count);
      pool.hold(block);
      this.#pushHeld(block, offset, count);
      at += count;
    }
  }

  #appendText(text: string): void {
    const pool = this.#pool;
    const encoder = textEncoder;
    let rest = text;
    while (rest.length > 0) {
      const block = pool.writeBlock();
      const offset = pool.writeCursor;
      const base = pool.baseOf(block);
      const room = pool.bytes.subarray(base + offset, base + pool.blockSize);
      const { read, written } = encoder.encodeInto(rest, room);
      if (written === 0) {
        // Not even one character fits in what is left of the block: start a fresh one.
        pool.wrote(pool.blockSize - offset);
        continue;
      }
      pool.wrote(written);
      pool.hold(block);
      this.#pushHeld(block, offset, written);
      rest = rest.slice(read);
    }
  }

  // Appends [from, from + count) of `source` (possibly this very IOBuf).
  #appendRange(source: IOBuf, from: number, count: number): void {
    if (count === 0) return;
    if (source.#pool !== this.#pool) {
      source.#forEachPiece(from, count, (bytes, position, length) =>
        this.#appendBytes(bytes, position, position + length),
      );
      return;
    }
    const pool = this.#pool;
    const refs = source.#refs;
    source.#locate(from);
    let i = source.#foundAt;
    let inside = source.#foundInside;
    let left = count;
    // Snapshot the end first: appending to itself extends the range being read.
    const end = source.#end;
    while (left > 0 && i < end) {
      const block = refs[i];
      const take = Math.min(left, refs[i + 2] - inside);
      pool.hold(block);
      this.#pushHeld(block, refs[i + 1] + inside, take);
      left -= take;
      inside = 0;
      i += 3;
    }
  }

  // Adds a reference whose hold the caller already took; merges it into the last one when it
  // continues it (then the extra hold is given back).
  #pushHeld(block: number, offset: number, length: number): void {
    const refs = this.#refs;
    const last = this.#end - 3;
    this.#length += length;
    if (last >= this.#first && refs[last] === block && refs[last + 1] + refs[last + 2] === offset) {
      refs[last + 2] += length;
      this.#pool.drop(block);
      return;
    }
    if (this.#end === refs.length) {
      refs.push(block, offset, length);
    } else {
      refs[last + 3] = block;
      refs[last + 4] = offset;
      refs[last + 5] = length;
    }
    this.#end += 3;
    if (this.#trackedIn === -1) this.#trackedIn = this.#pool.leakNet.track(this, refs);
  }

  // ---- raw pieces, for layers that keep block references in shared memory ----

  /**
   * Writes this IOBuf's pieces into `into` from index `at` as (block, offset, length) triples and
   * takes one shared reference on each piece's block for the caller, who gives it back with
   * `pool.blocks.release(block)` on any thread. Returns the number of pieces. User data cannot
   * leave its thread: E_INVALID_ARGUMENT if this IOBuf holds some (`share()` copies it).
   */
  exportPieces(into: Int32Array | number[], at = 0): number {
    this.#live();
    if (this.#holdsUserData()) {
      throw new WeftTypeError(
        ErrorCode.INVALID_ARGUMENT,
        'exportPieces cannot export user data (it belongs to this thread); share() copies it',
      );
    }
    const refs = this.#refs;
    const count = (this.#end - this.#first) / 3;
    if (!(Number.isInteger(at) && at >= 0) || at + 3 * count > into.length) {
      throw new WeftRangeError(
        ErrorCode.OUT_OF_RANGE,
        `exportPieces needs room for ${3 * count} numbers from index ${at} in an array of ${into.length}`,
      );
    }
    for (let i = this.#first, w = at; i < this.#end; i += 3, w += 3) {
      this.#pool.blocks.retain(refs[i]);
      into[w] = refs[i];
      into[w + 1] = refs[i + 1];
      into[w + 2] = refs[i + 2];
    }
    return count;
  }

  /**
   * Appends `count` pieces given as (block, offset, length) triples from index `at` of `from`
   * (no byte copied), taking this thread's holds on their blocks. Each block must be kept alive by
   * a reference of the caller's during the call (one `exportPieces` took, say). E_OUT_OF_RANGE for
   * a piece outside the pool's blocks.
   */
  appendPieces(from: Int32Array | number[], at: number, count: number): this {
    this.#live();
    const pool = this.#pool;
    const { blockSize, maxBlocks } = pool.blocks;
    if (!(Number.isInteger(at) && at >= 0 && Number.isInteger(count) && count >= 0)) {
      throw new WeftRangeError(
        ErrorCode.OUT_OF_RANGE,
        `appendPieces needs whole numbers from 0 for at and count, got ${at} and ${count}`,
      );
    }
    // Every piece is checked before any is appended: a bad one leaves this IOBuf as it was.
    for (let i = at; i < at + 3 * count; i += 3) {
      const block = from[i];
      const offset = from[i + 1];
      const length = from[i + 2];
      if (
        !(Number.isInteger(block) && block >= 0 && block < maxBlocks) ||
        !(Number.isInteger(offset) && offset >= 0) ||
        !(Number.isInteger(length) && length > 0 && offset + length <= blockSize)
      ) {
        throw new WeftRangeError(
          ErrorCode.OUT_OF_RANGE,
          `appendPieces: (${block}, ${offset}, ${length}) is not a piece of a block of this pool`,
        );
      }
    }
    for (let i = at; i < at + 3 * count; i += 3) {
      const block = from[i];
      pool.blocks.cover(block);
      pool.hold(block);
      this.#pushHeld(block, from[i + 1], from[i + 2]);
    }
    return this;
  }

  /** True if some of this IOBuf's bytes are user data (memory of this thread, see appendUserData). */
  get holdsUserData(): boolean {
    this.#live();
    return this.#holdsUserData();
  }

  // ---- cutting ----

  /** Cuts up to `n` bytes off the front into a new IOBuf (no copy). */
  cutn(n: number): IOBuf {
    this.#live();
    const target = new IOBuf(this.#pool);
    this.#moveFront(Math.min(requireSize(n, 'cutn size'), this.#length), target);
    return target;
  }

  /** Moves up to `n` bytes from the front of this IOBuf to the end of `target`; returns how many. */
  cutInto(target: IOBuf, n: number): number {
    this.#live();
    if (!(target instanceof IOBuf)) {
      throw new WeftTypeError(
        ErrorCode.INVALID_ARGUMENT,
        `cutInto needs a target IOBuf, got ${describe(target)}`,
      );
    }
    target.#live();
    const count = Math.min(requireSize(n, 'cutInto size'), this.#length);
    if (target === this || target.#pool !== this.#pool) {
      // Into itself (a rotation) or into another pool: append the range, then drop it here.
      target.#appendRange(this, 0, count);
      this.#moveFront(count, undefined);
    } else {
      this.#moveFront(count, target);
    }
    return count;
  }

  /** Drops up to `n` bytes from the front; returns how many. */
  popFront(n: number): number {
    this.#live();
    const count = Math.min(requireSize(n, 'popFront size'), this.#length);
    this.#moveFront(count, undefined);
    return count;
  }

  /** Drops up to `n` bytes from the back; returns how many. */
  popBack(n: number): number {
    this.#live();
    const count = Math.min(requireSize(n, 'popBack size'), this.#length);
    const refs = this.#refs;
    let left = count;
    while (left > 0) {
      const last = this.#end - 3;
      if (refs[last + 2] <= left) {
        left -= refs[last + 2];
        this.#pool.drop(refs[last]);
        refs[last] = -1;
        this.#end = last;
      } else {
        refs[last + 2] -= left;
        left = 0;
      }
    }
    this.#length -= count;
    if (this.#end === this.#first) this.#reset();
    return count;
  }

  /**
   * Cuts the bytes before the first `delimiter` into a new IOBuf and drops the delimiter; null
   * (nothing cut) when there is none.
   */
  cutUntil(delimiter: Delimiter): IOBuf | null {
    this.#live();
    const needle = toNeedle(delimiter);
    const at = this.#indexOfNeedle(needle, 0);
    if (at < 0) return null;
    const cut = this.cutn(at);
    this.#moveFront(needle.length, undefined);
    return cut;
  }

  // Moves `count` bytes (at most the length) from the front to `target`, or drops them.
  #moveFront(count: number, target: IOBuf | undefined): void {
    const refs = this.#refs;
    const pool = this.#pool;
    let left = count;
    let i = this.#first;
    while (left > 0) {
      const block = refs[i];
      const length = refs[i + 2];
      if (length <= left) {
        // The whole reference moves, and its hold with it.
        if (target === undefined) pool.drop(block);
        else target.#pushHeld(block, refs[i + 1], length);
        refs[i] = -1;
        left -= length;
        i += 3;
      } else {
        if (target !== undefined) {
          pool.hold(block);
          target.#pushHeld(block, refs[i + 1], left);
        }
        refs[i + 1] += left;
        refs[i + 2] = length - left;
        left = 0;
      }
    }
    this.#first = i;
    this.#length -= count;
    if (i === this.#end) this.#reset();
    else if (i >= COMPACT_AFTER && 2 * i >= this.#end) {
      // Move the live triples to the front; what was behind them is consumed (-1) already.
      refs.copyWithin(0, i, this.#end);
      for (let k = this.#end - i; k < this.#end; k += 3) refs[k] = -1;
      this.#end -= i;
      this.#first = 0;
    }
  }

  // Empties the range (its triples are consumed or dropped: block -1 already).
  #reset(): void {
    this.#first = 0;
    this.#end = 0;
  }

  // ---- reading ----

  /**
   * The first `n` bytes, without consuming them: a view into block memory when they lie in one
   * piece (valid while this IOBuf holds it), else a copy (brpc's fetch).
   */
  peek(n: number): Buffer {
    this.#live();
    this.#requireWithin(0, requireSize(n, 'peek size'), 'peek');
    if (n === 0) return Buffer.alloc(0);
    const refs = this.#refs;
    const i = this.#first;
    if (refs[i + 2] >= n) return this.#pieceView(i, 0, n);
    return this.fetch(n);
  }

  /** A copy of the first `n` bytes, without consuming them. */
  fetch(n: number): Buffer {
    this.#live();
    this.#requireWithin(0, requireSize(n, 'fetch size'), 'fetch');
    const out = Buffer.allocUnsafe(n);
    this.#copyOut(out, 0, 0, n);
    return out;
  }

  /**
   * Copies `length` bytes from `offset` of this IOBuf into `target` at `targetStart`; returns
   * how many. The range must lie within both.
   */
  copyTo(
    target: Uint8Array,
    options: { offset?: number; length?: number; targetStart?: number } = {},
  ): number {
    this.#live();
    if (!(target instanceof Uint8Array)) {
      throw new WeftTypeError(
        ErrorCode.INVALID_ARGUMENT,
        `copyTo needs a Uint8Array target, got ${describe(target)}`,
      );
    }
    const offset = requireSize(options.offset ?? 0, 'copyTo offset');
    const length = requireSize(options.length ?? this.#length - offset, 'copyTo length');
    const targetStart = requireSize(options.targetStart ?? 0, 'copyTo targetStart');
    this.#requireWithin(offset, length, 'copyTo');
    if (targetStart + length > target.length) {
      throw new WeftRangeError(
        ErrorCode.OUT_OF_RANGE,
        `copyTo needs room for ${length} bytes at ${targetStart}, the target holds ${target.length}`,
      );
    }
    this.#copyOut(target, targetStart, offset, length);
    return length;
  }

  /** All the bytes, in one new Buffer. */
  toBuffer(): Buffer {
    this.#live();
    const out = Buffer.allocUnsafe(this.#length);
    this.#copyOut(out, 0, 0, this.#length);
    return out;
  }

  /** The bytes decoded as text (`encoding` as Buffer's, default utf8). */
  toString(encoding: BufferEncoding = 'utf8'): string {
    this.#live();
    const refs = this.#refs;
    const i = this.#first;
    // One piece: decode in place.
    if (this.#end - i === 3) return this.#pieceView(i, 0, refs[i + 2]).toString(encoding);
    return this.toBuffer().toString(encoding);
  }

  /** True if `other` (an IOBuf, bytes or text) holds the same bytes. */
  equals(other: IOBuf | Uint8Array | string): boolean {
    this.#live();
    let bytes: Uint8Array;
    if (other instanceof IOBuf) bytes = other.toBuffer();
    else if (typeof other === 'string') bytes = Buffer.from(other);
    else if (other instanceof Uint8Array) bytes = other;
    else {
      throw new WeftTypeError(
        ErrorCode.INVALID_ARGUMENT,
        `equals compares with an IOBuf, a Uint8Array or a string, got ${describe(other)}`,
      );
    }
    if (bytes.length !== this.#length) return false;
    let same = true;
    this.#forEachPiece(0, this.#length, (piece, position, length, at) => {
      if (same)
        same =
          Buffer.compare(
            piece.subarray(position, position + length),
            bytes.subarray(at, at + length),
          ) === 0;
    });
    return same;
  }

  /** Where `delimiter` first occurs at or after `from`, or -1. Matches may straddle pieces. */
  indexOf(delimiter: Delimiter, from = 0): number {
    this.#live();
    requireSize(from, 'indexOf from');
    return this.#indexOfNeedle(toNeedle(delimiter), from);
  }

  #indexOfNeedle(needle: Uint8Array, from: number): number {
    const last = this.#length - needle.length;
    if (from > last) return -1;
    let found = -1;
    let pieceStart = 0;
    this.#forEachPiece(0, this.#length, (bytes, position, length) => {
      if (found >= 0) return;
      // A match that begins in earlier pieces and ends in this one.
      for (
        let k = Math.max(from, pieceStart - needle.length + 1);
        k < pieceStart && k <= last;
        k++
      ) {
        if (this.#matchesAt(needle, k)) {
          found = k;
          return;
        }
      }
      const start = Math.max(0, from - pieceStart);
      if (start < length) {
        const view = Buffer.from(bytes.buffer, bytes.byteOffset + position, length);
        const at = view.indexOf(needle, start);
        if (at >= 0 && pieceStart + at <= last) found = pieceStart + at;
      }
      pieceStart += length;
    });
    return found;
  }

  #matchesAt(needle: Uint8Array, offset: number): boolean {
    for (let j = 0; j < needle.length; j++)
      if (this.#byteAt(offset + j) !== needle[j]) return false;
    return true;
  }

  /**
   * Views of the pieces, at most `max` of them (brpc caps a writev at 256), for gather writes:
   * `socket.cork(); for (const s of buf.slices()) socket.write(s); socket.uncork()`. Valid while
   * this IOBuf holds its blocks: release it after the write completes.
   */
  slices(max = 256): Buffer[] {
    this.#live();
    requireSize(max, 'slices max');
    const out: Buffer[] = [];
    const refs = this.#refs;
    for (let i = this.#first; i < this.#end && out.length < max; i += 3) {
      out.push(this.#pieceView(i, 0, refs[i + 2]));
    }
    return out;
  }

  // A Buffer over `length` bytes from `inside` of the piece at triple `i`, in place.
  #pieceView(i: number, inside: number, length: number): Buffer {
    const refs = this.#refs;
    const bytes = this.#pool.bytesOf(refs[i]);
    const at = bytes.byteOffset + this.#pool.baseOf(refs[i]) + refs[i + 1] + inside;
    return Buffer.from(bytes.buffer, at, length);
  }

  // ---- integer reads at an offset (the bytes may straddle pieces) ----

  readUInt8(offset = 0): number {
    return this.#byteAtChecked(offset);
  }
  readInt8(offset = 0): number {
    return (this.#byteAtChecked(offset) << 24) >> 24;
  }
  readUInt16BE(offset = 0): number {
    const b = this.#bytesAt(offset, 2);
    const at = this.#at;
    return (b[at] << 8) | b[at + 1];
  }
  readUInt16LE(offset = 0): number {
    const b = this.#bytesAt(offset, 2);
    const at = this.#at;
    return b[at] | (b[at + 1] << 8);
  }
  readInt16BE(offset = 0): number {
    return (this.readUInt16BE(offset) << 16) >> 16;
  }
  readInt16LE(offset = 0): number {
    return (this.readUInt16LE(offset) << 16) >> 16;
  }
  readUInt32BE(offset = 0): number {
    return this.readInt32BE(offset) >>> 0;
  }
  readUInt32LE(offset = 0): number {
    return this.readInt32LE(offset) >>> 0;
  }
  readInt32BE(offset = 0): number {
    const b = this.#bytesAt(offset, 4);
    const at = this.#at;
    return (b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3];
  }
  readInt32LE(offset = 0): number {
    const b = this.#bytesAt(offset, 4);
    const at = this.#at;
    return b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24);
  }
  // Wider and floating-point reads go through a DataView over the scratch copy: rarer, and a
  // DataView call on shared memory costs more than the copy of 8 bytes.
  readBigUInt64BE(offset = 0): bigint {
    return this.#scratchView(offset, 8).getBigUint64(0);
  }
  readBigUInt64LE(offset = 0): bigint {
    return this.#scratchView(offset, 8).getBigUint64(0, true);
  }
  readBigInt64BE(offset = 0): bigint {
    return this.#scratchView(offset, 8).getBigInt64(0);
  }
  readBigInt64LE(offset = 0): bigint {
    return this.#scratchView(offset, 8).getBigInt64(0, true);
  }
  readFloatBE(offset = 0): number {
    return this.#scratchView(offset, 4).getFloat32(0);
  }
  readFloatLE(offset = 0): number {
    return this.#scratchView(offset, 4).getFloat32(0, true);
  }
  readDoubleBE(offset = 0): number {
    return this.#scratchView(offset, 8).getFloat64(0);
  }
  readDoubleLE(offset = 0): number {
    return this.#scratchView(offset, 8).getFloat64(0, true);
  }

  // Where the last #bytesAt call put the bytes, in the array it returned.
  #at = 0;

  // An array holding bytes [offset, offset + size) from #at: the block memory itself when they
  // lie in one piece, else the scratch they were gathered into.
  #bytesAt(offset: number, size: number): Uint8Array {
    this.#checkRead(offset, size);
    this.#locate(offset);
    const refs = this.#refs;
    const i = this.#foundAt;
    if (this.#foundInside + size <= refs[i + 2]) {
      const block = refs[i];
      this.#at = this.#pool.baseOf(block) + refs[i + 1] + this.#foundInside;
      return this.#pool.bytesOf(block);
    }
    this.#copyOut(scratch, 0, offset, size);
    this.#at = 0;
    return scratch;
  }

  #scratchView(offset: number, size: number): DataView {
    this.#checkRead(offset, size);
    this.#copyOut(scratch, 0, offset, size);
    return scratchView;
  }

  #checkRead(offset: number, size: number): void {
    this.#live();
    this.#requireWithin(requireSize(offset, 'read offset'), size, 'read');
  }

  #byteAtChecked(offset: number): number {
    this.#checkRead(offset, 1);
    return this.#byteAt(offset);
  }

  #byteAt(offset: number): number {
    this.#locate(offset);
    const block = this.#refs[this.#foundAt];
    return this.#pool.bytesOf(block)[
      this.#pool.baseOf(block) + this.#refs[this.#foundAt + 1] + this.#foundInside
    ];
  }

  // Finds the piece holding byte `offset` (< length): sets #foundAt and #foundInside.
  #locate(offset: number): void {
    const refs = this.#refs;
    let i = this.#first;
    let inside = offset;
    while (inside >= refs[i + 2]) {
      inside -= refs[i + 2];
      i += 3;
    }
    this.#foundAt = i;
    this.#foundInside = inside;
  }

  // Copies [offset, offset + length) into target at targetStart (the range is checked).
  #copyOut(target: Uint8Array, targetStart: number, offset: number, length: number): void {
    this.#forEachPiece(offset, length, (bytes, position, count, at) => {
      if (count <= 8) {
        for (let k = 0; k < count; k++) target[targetStart + at + k] = bytes[position + k];
      } else {
        target.set(bytes.subarray(position, position + count), targetStart + at);
      }
    });
  }

  // Calls `visit(bytes, position, count, at)` for each piece of [offset, offset + length): the
  // piece's bytes are bytes[position, position + count), at byte `at` of the range.
  #forEachPiece(
    offset: number,
    length: number,
    visit: (bytes: Uint8Array, position: number, count: number, at: number) => void,
  ): void {
    if (length === 0) return;
    this.#locate(offset);
    const refs = this.#refs;
    const pool = this.#pool;
    let i = this.#foundAt;
    let inside = this.#foundInside;
    let at = 0;
    while (at < length) {
      const count = Math.min(length - at, refs[i + 2] - inside);
      const block = refs[i];
      visit(pool.bytesOf(block), pool.baseOf(block) + refs[i + 1] + inside, count, at);
      at += count;
      inside = 0;
      i += 3;
    }
  }

  #requireWithin(offset: number, size: number, what: string): void {
    if (offset + size > this.#length) {
      throw new WeftRangeError(
        ErrorCode.OUT_OF_RANGE,
        `${what} of ${size} bytes at offset ${offset} is beyond the end: the IOBuf holds ${this.#length}`,
      );
    }
  }

  // ---- crossing threads ----

  /**
   * A descriptor another thread takes up with `IOBuf.fromShared` (once), to get an IOBuf over the
   * same blocks: no byte is copied (user data excepted: it is copied into blocks). This IOBuf is
   * unchanged. A descriptor never taken up keeps its blocks: take it and release the result.
   */
  share(): SharedIOBuf {
    return this.#handOff(false);
  }

  /**
   * `share()` and `release()` in one step, as postMessage's transfer: the references move into
   * the descriptor, and the blocks only this IOBuf held on this thread pass over without an
   * atomic operation. This IOBuf is released (if the pool has no room for the hand-over record,
   * it throws E_CAPACITY and this IOBuf is left as it was).
   */
  transfer(): SharedIOBuf {
    return this.#handOff(true);
  }

  #handOff(move: boolean): SharedIOBuf {
    this.#live();
    const pool = this.#pool;
    const length = this.#length;
    // User data is this thread's memory: a stand-in copies it into blocks, keeps block pieces.
    const source = this.#holdsUserData() ? this.#withUserDataCopied() : this;
    try {
      const record = writeRecord(pool, source.#refs, source.#first, source.#end, move);
      if (move) {
        source.#forget();
        this.release();
      }
      return { pool: pool.handle, record, length };
    } finally {
      if (source !== this) source.release();
    }
  }

  #withUserDataCopied(): IOBuf {
    const pool = this.#pool;
    const copy = new IOBuf(pool);
    this.#forEachRef((block, offset, length) => {
      if (block >= pool.userBase) {
        copy.#appendBytes(pool.bytesOf(block), offset, offset + length);
      } else {
        pool.hold(block);
        copy.#pushHeld(block, offset, length);
      }
    });
    return copy;
  }

  #holdsUserData(): boolean {
    const refs = this.#refs;
    for (let i = this.#first; i < this.#end; i += 3)
      if (refs[i] >= this.#pool.userBase) return true;
    return false;
  }

  #forEachRef(visit: (block: number, offset: number, length: number) => void): void {
    const refs = this.#refs;
    for (let i = this.#first; i < this.#end; i += 3) visit(refs[i], refs[i + 1], refs[i + 2]);
  }

  // ---- lifetime ----

  /** Drops every byte (the IOBuf stays usable). */
  clear(): void {
    this.#live();
    const refs = this.#refs;
    for (let i = this.#first; i < this.#end; i += 3) this.#pool.drop(refs[i]);
    this.#forget();
  }

  /** Empties this IOBuf without dropping its references (they were handed on). */
  #forget(): void {
    const refs = this.#refs;
    for (let i = this.#first; i < this.#end; i += 3) refs[i] = -1;
    this.#reset();
    this.#length = 0;
  }

  /** Gives the blocks back; any later use is E_RELEASED. Releasing twice is harmless. */
  release(): void {
    if (this.#released) return;
    this.clear();
    this.#released = true;
    if (this.#trackedIn !== -1) this.#pool.leakNet.untrack(this, this.#trackedIn);
  }

  /** True once released. */
  get released(): boolean {
    return this.#released;
  }

  [Symbol.dispose](): void {
    this.release();
  }

  #live(): void {
    if (this.#released) {
      throw new WeftError(ErrorCode.RELEASED, 'this IOBuf was released; it can no longer be used');
    }
  }
}

const textEncoder = new TextEncoder();
