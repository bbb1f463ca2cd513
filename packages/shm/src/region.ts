/**
 * Regions: where a shared structure lives.
 *
 * Every structure in this package lives in a region of a caller-provided SharedArrayBuffer that
 * starts on a 64-byte boundary — one cache line, so two structures never false-share a line —
 * and opens with a one-line header: a magic word naming the kind of structure, then its
 * parameters. `create` fills the region and writes the magic word last; `attach`, on any thread,
 * reads the parameters back. A worker therefore needs only `(buffer, byteOffset)` to use a
 * structure another thread built, and attaching the wrong kind of structure, or uninitialised
 * memory, is an E_BAD_REGION error instead of silent corruption.
 *
 * Regions must be created before they are shared: `attach` racing with `create` on the same
 * region is not supported.
 */
import { describe, requireInteger } from './checks.ts';
import { ErrorCode, WeftError, WeftRangeError, WeftTypeError } from './weft-error.ts';

/** Bytes in a cache line: the alignment of every region and of every word two threads write. */
export const CACHE_LINE = 64;

/** Int32 words in a cache line. */
export const WORDS_PER_LINE = CACHE_LINE / 4;

/** Rounds a byte count up to a whole number of cache lines. */
export function alignToLine(bytes: number): number {
  return Math.ceil(bytes / CACHE_LINE) * CACHE_LINE;
}

/** The magic word for a four-letter structure tag, e.g. `magic('WSDQ')`. */
export function magic(tag: string): number {
  return (
    (tag.charCodeAt(0) << 24) |
    (tag.charCodeAt(1) << 16) |
    (tag.charCodeAt(2) << 8) |
    tag.charCodeAt(3)
  );
}

function requireRegion(buffer: unknown, byteOffset: unknown, bytes: number, kind: string): void {
  if (!(buffer instanceof SharedArrayBuffer)) {
    throw new WeftTypeError(
      ErrorCode.INVALID_ARGUMENT,
      `${kind} needs a SharedArrayBuffer, got ${describe(buffer)}`,
    );
  }
  requireInteger(byteOffset, 0, Number.MAX_SAFE_INTEGER, `${kind} byteOffset`);
  if (byteOffset % CACHE_LINE !== 0) {
    throw new WeftRangeError(
      ErrorCode.MISALIGNED,
      `${kind} byteOffset must be a multiple of ${CACHE_LINE} (a cache line), got ${byteOffset}`,
    );
  }
  if (byteOffset + bytes > buffer.byteLength) {
    throw new WeftRangeError(
      ErrorCode.REGION_TOO_SMALL,
      `${kind} needs ${bytes} bytes at byteOffset ${byteOffset}, ` +
        `but the buffer holds only ${buffer.byteLength - byteOffset} bytes from there`,
    );
  }
}

/**
 * Checks that `[byteOffset, byteOffset + bytes)` is an aligned region of a SharedArrayBuffer and
 * returns an Int32Array over it.
 */
export function openRegion(
  buffer: unknown,
  byteOffset: unknown,
  bytes: number,
  kind: string,
): Int32Array {
  requireRegion(buffer, byteOffset, bytes, kind);
  return new Int32Array(buffer as SharedArrayBuffer, byteOffset as number, bytes / 4);
}

/**
 * Writes a structure's header into the first line of its region: the parameters, then the magic
 * word with a sequentially consistent store, so a thread that sees the magic also sees the rest
 * of what `create` wrote before it.
 */
export function writeHeader(words: Int32Array, tag: number, params: readonly number[]): void {
  for (let i = 0; i < params.length; i++) words[1 + i] = params[i];
  Atomics.store(words, 0, tag);
}

/**
 * Reads the parameters of the structure of kind `kind` at `byteOffset`; throws E_BAD_REGION if
 * the region does not start with that kind's magic word.
 */
export function readHeader(
  buffer: unknown,
  byteOffset: unknown,
  tag: number,
  kind: string,
  paramCount: number,
): number[] {
  requireRegion(buffer, byteOffset, CACHE_LINE, kind);
  const header = new Int32Array(buffer as SharedArrayBuffer, byteOffset as number, WORDS_PER_LINE);
  const found = Atomics.load(header, 0);
  if (found !== tag) {
    throw new WeftError(
      ErrorCode.BAD_REGION,
      `no ${kind} at byteOffset ${byteOffset}: expected magic 0x${(tag >>> 0).toString(16)}, ` +
        `found 0x${(found >>> 0).toString(16)} (create it there first)`,
    );
  }
  return Array.from(header.subarray(1, 1 + paramCount));
}
