/**
 * The framing parsers the iobuf benchmark runs: weft's and what Node users write today
 * (BASELINES.md section 4). Each takes the stream's chunks one by one, cuts every complete
 * length-prefixed message out after each, and folds it into a checksum.
 */
import { IOBuf, IOBufPool, IOPortal, lengthPrefixed } from '@weft/iobuf';
import { BufferList } from 'bl';
import type { Checksum } from './stream.ts';

export interface Parser {
  push(chunk: Buffer): void;
  checksum: Checksum;
  /** Gives back what the parser holds (weft's blocks), after the last chunk. */
  close?(): void;
}

const fold = (sum: Checksum, payload: Uint8Array) => {
  sum.count++;
  sum.bytes += payload.length;
  if (payload.length > 0) sum.xor ^= payload[0];
};

/** What the harness costs alone: the chunks are made and handed over, nothing is parsed. */
function harness(): Parser {
  const checksum = { count: 0, bytes: 0, xor: 0 };
  return {
    checksum,
    push(chunk) {
      checksum.bytes += chunk.length;
    },
  };
}

/**
 * weft: an IOPortal receives each chunk (copied into the thread's write block, or wrapped as user
 * data with `wrapAbove: 0`), and frames are moved into one reused IOBuf — references only,
 * nothing allocated per message.
 */
function weft(wrapAbove?: number): Parser {
  const pool = IOBufPool.create({ leakCheck: 'off' });
  const portal = new IOPortal(pool, { wrapAbove });
  const frames = lengthPrefixed({ bytes: 4 });
  const frame = new IOBuf(pool);
  const checksum = { count: 0, bytes: 0, xor: 0 };
  return {
    checksum,
    close() {
      portal.release();
      frame.release();
    },
    push(chunk) {
      portal.receive(chunk);
      while (frames.cut(portal, frame) !== null) {
        checksum.count++;
        checksum.bytes += frame.length;
        if (frame.length > 0) checksum.xor ^= frame.readUInt8(0);
        frame.clear();
      }
    },
  };
}

/** weft, the convenient way: a new IOBuf per message (and the leak net watching each one). */
function weftNewIOBufs(): Parser {
  const pool = IOBufPool.create({ leakCheck: 'report' });
  const portal = new IOPortal(pool);
  const frames = lengthPrefixed({ bytes: 4 });
  const checksum = { count: 0, bytes: 0, xor: 0 };
  return {
    checksum,
    close() {
      portal.release();
    },
    push(chunk) {
      portal.receive(chunk);
      for (let frame = frames.cut(portal); frame !== null; frame = frames.cut(portal)) {
        checksum.count++;
        checksum.bytes += frame.length;
        if (frame.length > 0) checksum.xor ^= frame.readUInt8(0);
        frame.release();
      }
    },
  };
}

/** (a) Concatenate every chunk onto what is pending. */
function concat(): Parser {
  let pending: Buffer = Buffer.alloc(0);
  const checksum = { count: 0, bytes: 0, xor: 0 };
  return {
    checksum,
    push(chunk) {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 4) {
        const end = 4 + pending.readUInt32BE(0);
        if (pending.length < end) break;
        fold(checksum, pending.subarray(4, end));
        pending = pending.subarray(end);
      }
    },
  };
}

/** (b) bl's BufferList: append, read the length across chunks, slice, consume. */
function bufferList(): Parser {
  const list = new BufferList();
  const checksum = { count: 0, bytes: 0, xor: 0 };
  return {
    checksum,
    push(chunk) {
      list.append(chunk);
      while (list.length >= 4) {
        const end = 4 + list.readUInt32BE(0);
        if (list.length < end) break;
        fold(checksum, list.slice(4, end));
        list.consume(end);
      }
    },
  };
}

/** (c) An array of chunks with a cursor; a message spanning chunks is copied out. */
function chunkArray(): Parser {
  const chunks: Buffer[] = [];
  let head = 0; // first chunk still in use
  let offset = 0; // bytes of it already consumed
  let length = 0; // bytes pending
  const checksum = { count: 0, bytes: 0, xor: 0 };
  const empty = Buffer.alloc(0);
  // Copies `count` pending bytes from `skip` on into a new Buffer, or views them in one chunk.
  const take = (skip: number, count: number): Buffer => {
    if (count === 0) return empty;
    let i = head;
    let at = offset + skip;
    while (at >= chunks[i].length) at -= chunks[i++].length;
    if (at + count <= chunks[i].length) return chunks[i].subarray(at, at + count);
    const out = Buffer.allocUnsafe(count);
    for (let filled = 0; filled < count; i++, at = 0) {
      filled += chunks[i].copy(out, filled, at, Math.min(chunks[i].length, at + count - filled));
    }
    return out;
  };
  const consume = (count: number) => {
    let left = count;
    while (left > 0) {
      const rest = chunks[head].length - offset;
      if (rest > left) {
        offset += left;
        break;
      }
      left -= rest;
      head++;
      offset = 0;
    }
    length -= count;
    if (head > 1024) {
      chunks.splice(0, head);
      head = 0;
    }
  };
  return {
    checksum,
    push(chunk) {
      chunks.push(chunk);
      length += chunk.length;
      while (length >= 4) {
        const end = 4 + take(0, 4).readUInt32BE(0);
        if (length < end) break;
        fold(checksum, take(4, end - 4));
        consume(end);
      }
    },
  };
}

/** (d) One growable buffer chunks are copied into; messages are views, valid until the next push. */
function linear(): Parser {
  let buffer = Buffer.allocUnsafe(64 * 1024);
  let start = 0;
  let end = 0;
  const checksum = { count: 0, bytes: 0, xor: 0 };
  return {
    checksum,
    push(chunk) {
      if (end + chunk.length > buffer.length) {
        const pending = end - start;
        if (pending + chunk.length > buffer.length / 2) {
          const grown = Buffer.allocUnsafe(Math.max(2 * buffer.length, pending + chunk.length));
          buffer.copy(grown, 0, start, end);
          buffer = grown;
        } else {
          buffer.copy(buffer, 0, start, end);
        }
        start = 0;
        end = pending;
      }
      buffer.set(chunk, end);
      end += chunk.length;
      while (end - start >= 4) {
        const stop = start + 4 + buffer.readUInt32BE(start);
        if (stop > end) break;
        fold(checksum, buffer.subarray(start + 4, stop));
        start = stop;
      }
    },
  };
}

/** Every parser, by the name the benchmark uses. */
export const parsers = {
  harness,
  weft: () => weft(),
  'weft, chunks wrapped': () => weft(0),
  'weft, a new IOBuf per message': weftNewIOBufs,
  'Buffer.concat': concat,
  bl: bufferList,
  'Buffer[] + cursor': chunkArray,
  'linear copy-in buffer': linear,
} satisfies Record<string, () => Parser>;

export type ParserName = keyof typeof parsers;
