/**
 * IOPortal: the IOBuf a connection's incoming bytes collect in (brpc's IOPortal).
 *
 * brpc reads a socket straight into the free space of its blocks. Node hands a socket's data over
 * as Buffers it has already filled, so a portal has a choice per chunk: copy it into blocks (a
 * memcpy, and the bytes can then cross threads) or wrap it as user data (no copy, but each piece
 * costs a JS object of its own, stays on this thread — `share()` copies it then — and keeps
 * Node's chunk alive). `receive` copies chunks below `wrapAbove` bytes and wraps the rest.
 *
 * The default, 4 KiB, is where the measured costs part (`pnpm bench iobuf`, "portal" rows):
 * copying costs ~70 ns at 1 KiB and ~230 ns at 4 KiB, then grows with the size (~3 µs at 64 KiB),
 * while wrapping stays at 20–40 ns. Below 4 KiB the copy costs about what a wrapped piece costs
 * later (in the framing benchmark, wrapping 1..200-byte chunks was no faster and allocated 50 more
 * JS-heap bytes per chunk); above it, the copy is the bigger cost. Frames are then cut with a
 * FrameCutter.
 */
import { requireInteger } from '@weft/shm';
import { IOBuf } from './iobuf.ts';
import type { IOBufPool } from './iobuf-pool.ts';

/** Options of an IOPortal. */
export interface IOPortalOptions {
  /** Chunks of at least this many bytes are wrapped, not copied (default 4096). */
  wrapAbove?: number;
}

export class IOPortal extends IOBuf {
  readonly wrapAbove: number;

  constructor(pool?: IOBufPool, options: IOPortalOptions = {}) {
    super(pool);
    this.wrapAbove = options.wrapAbove ?? 4096;
    requireInteger(this.wrapAbove, 0, Number.MAX_SAFE_INTEGER, 'IOPortal wrapAbove');
  }

  /** Takes in a chunk read from a socket: copied, or wrapped when it is large (see above). */
  receive(chunk: Uint8Array): this {
    return chunk.length >= this.wrapAbove ? this.appendUserData(chunk) : this.append(chunk);
  }
}
