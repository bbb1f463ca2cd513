/**
 * @weft/shm — shared-memory building blocks for weft.
 *
 * Everything here lives in a region of a caller-provided SharedArrayBuffer, is safe to use from
 * several worker threads at once, and talks only through Atomics: nothing on these paths uses
 * postMessage. Each structure has `bytesFor(...)` (to plan a layout), `create(buffer, byteOffset,
 * ...)` (on one thread) and `attach(buffer, byteOffset)` (on any other).
 */
export { Butex } from './butex.ts';
export { describe, requireInt32, requireInteger, toTimeout } from './checks.ts';
export { Futex, type WaitAsyncOptions, type WaitResult } from './futex.ts';
export { MpscQueue } from './mpsc-queue.ts';
export { ParkingLot, type ParkResult } from './parking-lot.ts';
export { PerThreadCounter, type PerThreadCounterOptions } from './per-thread-counter.ts';
export { alignToLine, CACHE_LINE, magic, openRegion, readHeader, writeHeader } from './region.ts';
export { SharedLayout } from './shared-layout.ts';
export { SlotPool, type SlotPoolOptions } from './slot-pool.ts';
export {
  isWellFormedId,
  MAX_VERSION,
  makeId,
  nextVersion,
  SLOT_SPACE,
  slotOf,
  versionOf,
} from './versioned-id.ts';
export {
  ErrorCode,
  WeftError,
  type WeftErrorCode,
  WeftRangeError,
  WeftTypeError,
} from './weft-error.ts';
export { WorkStealingDeque } from './work-stealing-deque.ts';
