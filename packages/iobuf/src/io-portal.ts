/**
 * IOPortal: the IOBuf a connection's incoming bytes collect in (brpc's IOPortal).
 *
 * brpc reads a socket straight into the free space of its blocks. Node hands a socket's data over
 * as Buffers it has already filled, so a portal has a choice per chunk: copy it into blocks (a
 * memcpy, and the bytes can then cross threads) or wrap it as user data (no copy, but each piece
 * costs a reference of its own, stays on this thread, and keeps Node's whole read buffer alive).
 * `receive` copies chunks below `wrapAbove` bytes and wraps the rest; the default is the measured
 * crossover (`pnpm bench iobuf`, "portal: copy vs wrap"). Frames are then cut with a FrameCutter.
 */
import { requireInteger } from '@weft/shm';
import { IOBuf } from './iobuf.ts';
import type { IOBufPool } from './iobuf-pool.ts';

/** Options of an IOPortal. */
export interface IOPortalOptions {
  /** Chunks of at least this many bytes are wrapped, not copied (default 65,536). */
  wrapAbove?: number;
}

export class IOPortal extends IOBuf {
  readonly wrapAbove: number;

  constructor(pool?: IOBufPool, options: IOPortalOptions = {}) {
    super(pool);
    this.wrapAbove = options.wrapAbove ?? 65_536;
    requireInteger(this.wrapAbove, 0, Number.MAX_SAFE_INTEGER, 'IOPortal wrapAbove');
  }

  /** Takes in a chunk read from a socket: copied, or wrapped when it is large (see above). */
  receive(chunk: Uint8Array): this {
    return chunk.length >= this.wrapAbove ? this.appendUserData(chunk) : this.append(chunk);
  }
}
