/**
 * Framing: cutting complete messages off the front of a byte stream, without copying them.
 *
 * A cutter is made once from a validated description and used for every frame:
 *
 *   const frames = lengthPrefixed({ bytes: 4 });
 *   for (let frame = frames.cut(portal); frame !== null; frame = frames.cut(portal)) { ... }
 *
 * `cut(source, into?)` returns null, consuming nothing, while the source does not yet hold a whole
 * frame; otherwise it moves the frame's bytes (references, not bytes) into `into` — appended, so
 * pass a cleared IOBuf to reuse one and allocate nothing — or into a new IOBuf, and returns it.
 */
import { describe, ErrorCode, requireInteger, WeftError, WeftTypeError } from '@weft/shm';
import { type Delimiter, toNeedle } from './arguments.ts';
import { IOBuf } from './iobuf.ts';

/** Cuts frames off a source IOBuf. */
export interface FrameCutter {
  /** The next whole frame, moved into `into` (or a new IOBuf); null if none is complete yet. */
  cut(source: IOBuf, into?: IOBuf): IOBuf | null;
}

/** A length-prefixed frame format. */
export interface LengthPrefix {
  /** Bytes of the length field: 1, 2 or 4. */
  bytes: 1 | 2 | 4;
  /** Byte order of the field (default 'big'). */
  endian?: 'big' | 'little';
  /** The length counts the field itself (default false: it counts the payload only). */
  includesPrefix?: boolean;
  /** Frames announcing a longer payload are E_FRAME_TOO_LARGE (default 64 MiB). */
  maxLength?: number;
  /** Keep the length field in the cut frame (default false: the payload only). */
  keepPrefix?: boolean;
}

/** Options of a delimited frame format. */
export interface DelimitedOptions {
  /** Keep the delimiter at the end of the cut frame (default false). */
  keepDelimiter?: boolean;
  /** A source holding this many bytes without a delimiter is E_FRAME_TOO_LARGE (default 64 MiB). */
  maxLength?: number;
}

const DEFAULT_MAX = 64 * 2 ** 20;

function frameTooLarge(length: number, max: number): WeftError {
  return new WeftError(
    ErrorCode.FRAME_TOO_LARGE,
    `a frame of ${length} bytes exceeds the limit of ${max} (the maxLength option); ` +
      'the stream is corrupt or hostile',
  );
}

/** A cutter of frames that start with their length. */
export function lengthPrefixed(prefix: LengthPrefix): FrameCutter {
  const size = (prefix as LengthPrefix | null)?.bytes;
  if (size !== 1 && size !== 2 && size !== 4) {
    throw new WeftTypeError(
      ErrorCode.INVALID_ARGUMENT,
      `a length prefix has 1, 2 or 4 bytes, got ${describe(size)}`,
    );
  }
  const endian = prefix.endian ?? 'big';
  if (endian !== 'big' && endian !== 'little') {
    throw new WeftTypeError(
      ErrorCode.INVALID_ARGUMENT,
      `a length prefix's endian is 'big' or 'little', got ${describe(endian)}`,
    );
  }
  const max = prefix.maxLength ?? DEFAULT_MAX;
  requireInteger(max, 0, Number.MAX_SAFE_INTEGER, 'lengthPrefixed maxLength');
  const little = endian === 'little';
  const counted = prefix.includesPrefix === true ? size : 0;
  const dropped = prefix.keepPrefix === true ? 0 : size;
  const read =
    size === 1
      ? (source: IOBuf) => source.readUInt8(0)
      : size === 2
        ? little
          ? (source: IOBuf) => source.readUInt16LE(0)
          : (source: IOBuf) => source.readUInt16BE(0)
        : little
          ? (source: IOBuf) => source.readUInt32LE(0)
          : (source: IOBuf) => source.readUInt32BE(0);
  return {
    cut(source, into) {
      const available = source.length;
      if (available < size) return null;
      const announced = read(source);
      if (announced < counted) {
        throw new WeftError(
          ErrorCode.OUT_OF_RANGE,
          `a length prefix counting itself says ${announced}, less than its own ${size} bytes`,
        );
      }
      const payload = announced - counted;
      if (payload > max) throw frameTooLarge(payload, max);
      if (available < size + payload) return null;
      source.popFront(dropped);
      const target = into ?? new IOBuf(source.pool);
      source.cutInto(target, size - dropped + payload);
      return target;
    },
  };
}

/** A cutter of frames that end with `delimiter` (e.g. '\r\n'). */
export function delimited(delimiter: Delimiter, options: DelimitedOptions = {}): FrameCutter {
  const needle = toNeedle(delimiter);
  const max = options.maxLength ?? DEFAULT_MAX;
  requireInteger(max, 0, Number.MAX_SAFE_INTEGER, 'delimited maxLength');
  const width = needle.length;
  const kept = options.keepDelimiter === true ? width : 0;
  return {
    cut(source, into) {
      const at = source.indexOf(needle);
      if (at < 0) {
        if (source.length > max) throw frameTooLarge(source.length, max);
        return null;
      }
      if (at > max) throw frameTooLarge(at, max);
      const target = into ?? new IOBuf(source.pool);
      source.cutInto(target, at + kept);
      source.popFront(width - kept);
      return target;
    },
  };
}
