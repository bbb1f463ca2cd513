/**
 * WeftError: the one error family of weft.
 *
 * Every error weft throws has a stable `code` that programs can switch on, and a message that says
 * what was wrong and what was expected. Bad arguments are also genuine `RangeError`s and
 * `TypeError`s, as Node's own argument errors are, so code that checks the built-in classes keeps
 * working. `err instanceof WeftError` is true for all of them: the three classes share a brand
 * that `WeftError`'s `Symbol.hasInstance` looks for, because a class cannot extend both `Error`
 * subclasses at once.
 */

/** The stable error codes. A code is never reused for a different meaning. */
export const ErrorCode = {
  /** An argument has the wrong type (TypeError). */
  INVALID_ARGUMENT: 'E_INVALID_ARGUMENT',
  /** A value that must be an int32 is not (TypeError). */
  NOT_INT32: 'E_NOT_INT32',
  /** A number is outside its allowed range (RangeError). */
  OUT_OF_RANGE: 'E_OUT_OF_RANGE',
  /** A capacity breaks its rule: not a power of two, too small or too large (RangeError). */
  INVALID_CAPACITY: 'E_INVALID_CAPACITY',
  /** A region does not fit in its SharedArrayBuffer (RangeError). */
  REGION_TOO_SMALL: 'E_REGION_TOO_SMALL',
  /** A region does not start on a 64-byte boundary (RangeError). */
  MISALIGNED: 'E_MISALIGNED',
  /** `attach` found no structure of the expected kind at the given offset. */
  BAD_REGION: 'E_BAD_REGION',
  /** A fixed-size table is full; the message gives the capacity and the option that sets it. */
  CAPACITY: 'E_CAPACITY',
  /** A task name that no worker registered. */
  UNKNOWN_TASK: 'E_UNKNOWN_TASK',
  /** The workers' task registries differ (they imported different task modules). */
  REGISTRY_MISMATCH: 'E_REGISTRY_MISMATCH',
  /** A task argument or result that structured clone cannot copy. */
  NOT_CLONEABLE: 'E_NOT_CLONEABLE',
  /** A TaskId (or other versioned id) that is stale, already joined, or not from this runtime. */
  STALE_ID: 'E_STALE_ID',
  /** A wait that could never end, such as a fiber joining itself. */
  DEADLOCK: 'E_DEADLOCK',
  /** The task was cancelled. */
  CANCELLED: 'E_CANCELLED',
  /** A wait with a timeout ran out of time. */
  TIMEOUT: 'E_TIMEOUT',
  /** The runtime is closed, or closing. */
  CLOSED: 'E_CLOSED',
  /** The worker thread running the task died; the message names the cause. */
  WORKER_DIED: 'E_WORKER_DIED',
  /** A task function killed several workers in a row and is no longer run. */
  POISON: 'E_POISON',
  /** A worker failed to start (for example, a task module did not load). */
  WORKER_BOOT: 'E_WORKER_BOOT',
  /** A Mutex was unlocked while not locked. */
  NOT_LOCKED: 'E_NOT_LOCKED',
  /** A fiber-only operation was called outside a fiber. */
  NOT_IN_FIBER: 'E_NOT_IN_FIBER',
  /** A buffer was used after `release()`. */
  RELEASED: 'E_RELEASED',
  /** A frame's length prefix announces more than the limit the reader set. */
  FRAME_TOO_LARGE: 'E_FRAME_TOO_LARGE',
  /** A buffer was garbage-collected without `release()` (thrown in the leak check's debug mode). */
  LEAKED: 'E_LEAKED',
  /** A channel's subscribers' queues are full and its policy says to fail the send. */
  FULL: 'E_FULL',
  /** A message is larger than the limit its hub was created with. */
  TOO_LARGE: 'E_TOO_LARGE',
  /** A receive on a subscriber that has joined no channel (it would wait forever). */
  NOT_SUBSCRIBED: 'E_NOT_SUBSCRIBED',
} as const;

export type WeftErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const brand = Symbol.for('weft.error');

/** Marks an error object as one of weft's, for `instanceof WeftError`. */
function stamp(error: Error, name: string): void {
  Object.defineProperty(error, brand, { value: true });
  Object.defineProperty(error, 'name', { value: name, configurable: true, writable: true });
}

/** An error raised by weft, with a stable `code`. */
export class WeftError extends Error {
  readonly code: WeftErrorCode;

  constructor(code: WeftErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    stamp(this, 'WeftError');
  }

  /**
   * `x instanceof WeftError` holds for every weft error, including WeftRangeError and
   * WeftTypeError; subclasses of WeftError keep the ordinary prototype check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class being tested against.
    if (this !== WeftError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && brand in value;
  }
}

/** A weft argument error that is also a `RangeError`. */
export class WeftRangeError extends RangeError {
  readonly code: WeftErrorCode;

  constructor(code: WeftErrorCode, message: string) {
    super(message);
    this.code = code;
    stamp(this, 'WeftRangeError');
  }
}

/** A weft argument error that is also a `TypeError`. */
export class WeftTypeError extends TypeError {
  readonly code: WeftErrorCode;

  constructor(code: WeftErrorCode, message: string) {
    super(message);
    this.code = code;
    stamp(this, 'WeftTypeError');
  }
}
