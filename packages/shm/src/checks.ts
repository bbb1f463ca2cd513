/**
 * Argument checks shared by every structure in this package.
 *
 * Each check throws a WeftRangeError or WeftTypeError whose message names the argument, states
 * the rule and shows what was passed, so a caller can fix the call from the message alone.
 * Checks run before any shared word is touched: bad input never reaches shared memory.
 */
import { ErrorCode, WeftRangeError, WeftTypeError } from './weft-error.ts';

/** A short, safe rendering of a bad value for an error message. */
export function describe(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return typeof value === 'bigint' ? `${value}n` : String(value);
  }
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'function') return 'a function';
  return `a ${value.constructor?.name ?? 'object'}`;
}

/** Throws E_NOT_INT32 unless `value` is an integer in [-2^31, 2^31 - 1]. */
export function requireInt32(value: unknown, what: string): asserts value is number {
  if (typeof value !== 'number' || (value | 0) !== value) {
    throw new WeftTypeError(
      ErrorCode.NOT_INT32,
      `${what} must be an int32 (an integer from -2147483648 to 2147483647), got ${describe(value)}`,
    );
  }
}

/** Throws unless `value` is an integer in [min, max]: E_INVALID_ARGUMENT for a non-number. */
export function requireInteger(
  value: unknown,
  min: number,
  max: number,
  what: string,
): asserts value is number {
  if (typeof value !== 'number') {
    throw new WeftTypeError(
      ErrorCode.INVALID_ARGUMENT,
      `${what} must be a number, got ${describe(value)}`,
    );
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new WeftRangeError(
      ErrorCode.OUT_OF_RANGE,
      `${what} must be an integer from ${min} to ${max}, got ${describe(value)}`,
    );
  }
}

/** Throws E_INVALID_CAPACITY unless `value` is a power of two in [min, max]. */
export function requirePowerOfTwo(
  value: unknown,
  min: number,
  max: number,
  what: string,
): asserts value is number {
  const n = value as number;
  if (
    typeof value !== 'number' ||
    !Number.isInteger(n) ||
    n < min ||
    n > max ||
    (n & (n - 1)) !== 0
  ) {
    throw new WeftRangeError(
      ErrorCode.INVALID_CAPACITY,
      `${what} must be a power of two from ${min} to ${max}, got ${describe(value)}`,
    );
  }
}

/** Throws E_INVALID_CAPACITY unless `value` is an integer in [min, max]. */
export function requireCapacity(
  value: unknown,
  min: number,
  max: number,
  what: string,
): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new WeftRangeError(
      ErrorCode.INVALID_CAPACITY,
      `${what} must be an integer from ${min} to ${max}, got ${describe(value)}`,
    );
  }
}

/**
 * Normalizes a timeout in milliseconds: `undefined` and `Infinity` mean no timeout, 0 means do
 * not sleep at all. NaN and negative values are E_OUT_OF_RANGE rather than Atomics.wait's silent
 * reading of them as "forever" and "now".
 */
export function toTimeout(timeoutMs: unknown, what: string): number {
  if (timeoutMs === undefined) return Number.POSITIVE_INFINITY;
  if (typeof timeoutMs !== 'number') {
    throw new WeftTypeError(
      ErrorCode.INVALID_ARGUMENT,
      `${what} must be a number of milliseconds, got ${describe(timeoutMs)}`,
    );
  }
  if (Number.isNaN(timeoutMs) || timeoutMs < 0) {
    throw new WeftRangeError(
      ErrorCode.OUT_OF_RANGE,
      `${what} must be 0 or more milliseconds (Infinity for none), got ${describe(timeoutMs)}`,
    );
  }
  return timeoutMs;
}

/**
 * Throws unless `count` is a number of threads to wake: at least `min`, or Infinity for all.
 * Callers test the fast case inline and call this only when it fails, to raise the right error.
 */
export function requireWakeCount(count: unknown, min: number): asserts count is number {
  if (typeof count !== 'number') {
    throw new WeftTypeError(
      ErrorCode.INVALID_ARGUMENT,
      `wake count must be a number (Infinity for all), got ${describe(count)}`,
    );
  }
  if (!(count >= min)) {
    throw new WeftRangeError(
      ErrorCode.OUT_OF_RANGE,
      `wake count must be ${min} or more (Infinity for all), got ${describe(count)}`,
    );
  }
}
