/**
 * Value codec: how task arguments, results and errors cross threads.
 *
 * Numbers, booleans, null and undefined travel inline in the task slot (a kind code and a
 * Float64): no serialization at all, which matters because `v8.serialize` + `deserialize` cost
 * 1.5–5 µs per value here, more than a whole spawn and join. Strings are UTF-8 bytes. Anything
 * else goes through `v8.serialize` (structured clone), and a value it cannot copy fails with
 * E_NOT_CLONEABLE naming the task.
 *
 * Errors need care: structured clone keeps an Error's class (for the built-in ones), message,
 * stack and cause, but drops its own fields (`code`) and a subclass's name. So a thrown error
 * travels as a record of those too, and comes back with its original stack, name and fields; a
 * WeftError comes back as a WeftError.
 */
import { deserialize, serialize } from 'node:v8';
import { ErrorCode, WeftError, type WeftErrorCode, WeftRangeError, WeftTypeError } from '@weft/shm';

/** Kinds of inline values (fit in a kind code plus a Float64). */
export const Inline = {
  UNDEFINED: 0,
  NULL: 1,
  FALSE: 2,
  TRUE: 3,
  NUMBER: 4,
} as const;

/** Kinds of out-of-line values (their bytes are in the payload store). */
export const OutOfLine = {
  STRUCTURED: 5,
  STRING: 6,
  ERROR: 7,
} as const;

/** The inline kind of `value`, or -1 if it must go out of line. */
export function inlineKind(value: unknown): number {
  switch (typeof value) {
    case 'number':
      return Inline.NUMBER;
    case 'boolean':
      return value ? Inline.TRUE : Inline.FALSE;
    case 'undefined':
      return Inline.UNDEFINED;
    default:
      return value === null ? Inline.NULL : -1;
  }
}

/**
 * A number read back from a Float64 slot, as V8 would have it had it never been stored: an
 * integer that fits int32 becomes a small integer again (`| 0`). Otherwise every integer argument
 * arrives as a double, and V8 compiles the task's arithmetic for doubles — fib(32) ran 2× slower
 * that way. -0 stays -0.
 */
export function fromFloat64(number: number): number {
  const int = number | 0;
  return int === number && (int !== 0 || 1 / number > 0) ? int : number;
}

/** The inline value of kind `kind` carried by `number`. */
export function inlineValue(kind: number, number: number): unknown {
  switch (kind) {
    case Inline.NUMBER:
      return fromFloat64(number);
    case Inline.TRUE:
      return true;
    case Inline.FALSE:
      return false;
    case Inline.NULL:
      return null;
    default:
      return undefined;
  }
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** UTF-8 bytes of a string. */
export function encodeString(value: string): Uint8Array {
  return utf8.encode(value);
}

/** The string whose UTF-8 bytes are `bytes`. */
export function decodeString(bytes: Uint8Array): string {
  return fromUtf8.decode(bytes);
}

/** Structured-clone bytes of `value`; E_NOT_CLONEABLE says which task's `what` failed. */
export function encodeStructured(value: unknown, what: string): Uint8Array {
  try {
    return serialize(value);
  } catch (cause) {
    throw new WeftError(
      ErrorCode.NOT_CLONEABLE,
      `${what} cannot be copied between threads: ${(cause as Error).message} ` +
        '(task arguments and results must be structured-cloneable: no functions, symbols, ' +
        'class instances with behaviour, or host objects)',
      { cause },
    );
  }
}

/** The value whose structured-clone bytes are `bytes`. */
export function decodeStructured(bytes: Uint8Array): unknown {
  return deserialize(bytes);
}

// What travels for a thrown value.
interface ErrorRecord {
  /** The thrown value itself when it could be cloned (keeps the class of built-in errors). */
  thrown?: unknown;
  isError: boolean;
  name?: string;
  message?: string;
  stack?: string;
  /** Own enumerable fields of the error (`code`, `errno`, ...), those that could be cloned. */
  fields?: Record<string, unknown>;
}

function cloneable(value: unknown): boolean {
  try {
    serialize(value);
    return true;
  } catch {
    return false;
  }
}

/** Bytes describing a thrown value, whatever it is; never throws. */
export function encodeError(thrown: unknown): Uint8Array {
  if (!(thrown instanceof Error)) {
    const record: ErrorRecord = cloneable(thrown)
      ? { isError: false, thrown }
      : { isError: false, thrown: `non-cloneable thrown value: ${String(thrown)}` };
    return serialize(record);
  }
  const fields: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(thrown)) if (cloneable(field)) fields[key] = field;
  const record: ErrorRecord = {
    isError: true,
    name: thrown.name,
    message: thrown.message,
    stack: thrown.stack,
    fields,
  };
  if (cloneable(thrown)) record.thrown = thrown;
  return serialize(record);
}

const weftClasses = { WeftError, WeftRangeError, WeftTypeError } as const;

/** The thrown value described by `bytes`, rebuilt with its original name, stack and fields. */
export function decodeError(bytes: Uint8Array): unknown {
  const record = deserialize(bytes) as ErrorRecord;
  if (!record.isError) return record.thrown;
  const code = record.fields?.code;
  let error: Error;
  if (typeof code === 'string' && record.name !== undefined && record.name in weftClasses) {
    const Class = weftClasses[record.name as keyof typeof weftClasses];
    error = new Class(code as WeftErrorCode, record.message ?? '');
  } else {
    error = record.thrown instanceof Error ? record.thrown : new Error(record.message);
  }
  Object.defineProperty(error, 'name', { value: record.name, configurable: true, writable: true });
  if (record.stack !== undefined) {
    Object.defineProperty(error, 'stack', {
      value: record.stack,
      configurable: true,
      writable: true,
    });
  }
  Object.assign(error, record.fields);
  return error;
}
