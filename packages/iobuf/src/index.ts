/**
 * @weft/iobuf — shared block buffers that cut, join and cross threads without copying (brpc's
 * IOBuf).
 *
 * An `IOBuf` is a list of references into refcounted blocks of an `IOBufPool`, whose memory is a
 * SharedArrayBuffer: appending another IOBuf, cutting a message off the front and handing bytes to
 * another thread (`share` or `transfer`, then `IOBuf.fromShared`) move references, not bytes. An
 * `IOPortal` collects a socket's chunks; `lengthPrefixed` and `delimited` cut frames off it.
 */
export type { Delimiter } from './arguments.ts';
export type { BlockPoolHandle, BlockPoolOptions } from './block-pool.ts';
export {
  type DelimitedOptions,
  delimited,
  type FrameCutter,
  type LengthPrefix,
  lengthPrefixed,
} from './framing.ts';
export { IOPortal, type IOPortalOptions } from './io-portal.ts';
export { type Appendable, IOBuf, type SharedIOBuf } from './iobuf.ts';
export {
  IOBufPool,
  type IOBufPoolOptions,
  type IOBufPoolStats,
  type IOBufPoolThreadOptions,
} from './iobuf-pool.ts';
export type { LeakCheck } from './leak-net.ts';
