/**
 * The argument checks IOBuf and the framing cutters share: sizes, and delimiters.
 */
import { describe, ErrorCode, WeftRangeError, WeftTypeError } from '@weft/shm';

/** A delimiter to search for: bytes, text (UTF-8) or one byte value. */
export type Delimiter = Uint8Array | string | number;

/** `value` if it is a whole number of bytes from 0, else a RangeError naming `what`. */
export function requireSize(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new WeftRangeError(
      ErrorCode.OUT_OF_RANGE,
      `${what} must be a whole number of bytes, 0 or more, got ${describe(value)}`,
    );
  }
  return value;
}

/** The bytes of `delimiter`, or a RangeError / TypeError saying what a delimiter may be. */
export function toNeedle(delimiter: Delimiter): Uint8Array {
  if (typeof delimiter === 'number') {
    if (!Number.isInteger(delimiter) || delimiter < 0 || delimiter > 255) {
      throw new WeftRangeError(
        ErrorCode.OUT_OF_RANGE,
        `a delimiter byte must be an integer from 0 to 255, got ${describe(delimiter)}`,
      );
    }
    return Uint8Array.of(delimiter);
  }
  const needle = typeof delimiter === 'string' ? Buffer.from(delimiter) : delimiter;
  if (!(needle instanceof Uint8Array) || needle.length === 0) {
    throw new WeftTypeError(
      ErrorCode.INVALID_ARGUMENT,
      `a delimiter must be a non-empty string or Uint8Array, or a byte value, got ${describe(delimiter)}`,
    );
  }
  return needle;
}
