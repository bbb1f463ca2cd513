/**
 * PayloadStore: bytes in shared memory, for task arguments and results that are not numbers.
 *
 * A value that cannot travel inline in a task slot is serialized, and its bytes are written here
 * by the thread that spawns (or completes) the task and read by whichever thread runs (or joins)
 * it. Nothing is posted between threads: the slot carries only a handle.
 *
 * Blocks come in three size classes (256 B, 4 KiB, 64 KiB), each a SlotPool of blocks over its
 * own data area, so an allocation is a SlotPool alloc (tens of nanoseconds, lock-free, per-thread
 * caches) and small values do not take big blocks. A payload larger than one 64 KiB block is a
 * chain of them. Every block starts with two int32s: the handle of the next block of the chain
 * (-1 at the end) and the number of payload bytes in this block.
 *
 * A handle is `slot * 4 + class`: an int32, since it only names a block this store handed out and
 * still owns (the SlotPool version check is not needed inside the store).
 */
import { alignToLine, SlotPool } from '@weft/shm';

const CLASS_BYTES = [256, 4096, 65536] as const;
// Share of the store's bytes given to each class.
const CLASS_SHARE = [0.25, 0.25, 0.5] as const;
const HEADER_BYTES = 8;
const END = -1;

interface SizeClass {
  pool: SlotPool;
  data: Uint8Array;
  header: Int32Array;
  blockBytes: number;
}

function blocksIn(totalBytes: number, index: number): number {
  return Math.max(1, Math.floor((totalBytes * CLASS_SHARE[index]) / CLASS_BYTES[index]));
}

export class PayloadStore {
  readonly #classes: SizeClass[];

  /** Bytes needed for a store holding about `totalBytes` of payload blocks. */
  static bytesFor(totalBytes: number): number {
    let bytes = 0;
    for (let c = 0; c < CLASS_BYTES.length; c++) {
      const blocks = blocksIn(totalBytes, c);
      bytes += alignToLine(SlotPool.bytesFor(blocks)) + alignToLine(blocks * CLASS_BYTES[c]);
    }
    return bytes;
  }

  /** Creates an empty store of about `totalBytes` in the region at `byteOffset`. */
  static create(buffer: SharedArrayBuffer, byteOffset: number, totalBytes: number): PayloadStore {
    let at = byteOffset;
    for (let c = 0; c < CLASS_BYTES.length; c++) {
      const blocks = blocksIn(totalBytes, c);
      SlotPool.create(buffer, at, blocks);
      at += alignToLine(SlotPool.bytesFor(blocks)) + alignToLine(blocks * CLASS_BYTES[c]);
    }
    return new PayloadStore(buffer, byteOffset, totalBytes);
  }

  /** Attaches, on any thread, to the store created with the same arguments. */
  static attach(buffer: SharedArrayBuffer, byteOffset: number, totalBytes: number): PayloadStore {
    return new PayloadStore(buffer, byteOffset, totalBytes);
  }

  private constructor(buffer: SharedArrayBuffer, byteOffset: number, totalBytes: number) {
    this.#classes = [];
    let at = byteOffset;
    for (let c = 0; c < CLASS_BYTES.length; c++) {
      const blocks = blocksIn(totalBytes, c);
      const pool = SlotPool.attach(buffer, at);
      at += alignToLine(SlotPool.bytesFor(blocks));
      const blockBytes = CLASS_BYTES[c];
      this.#classes.push({
        pool,
        blockBytes,
        data: new Uint8Array(buffer, at, blocks * blockBytes),
        header: new Int32Array(buffer, at, (blocks * blockBytes) / 4),
      });
      at += alignToLine(blocks * blockBytes);
    }
  }

  /** Writes `bytes` and returns a handle, or -1 when the store has no room for them. */
  write(bytes: Uint8Array): number {
    const size = bytes.length;
    let c = 0;
    while (c < CLASS_BYTES.length - 1 && size > CLASS_BYTES[c] - HEADER_BYTES) c++;
    const perBlock = CLASS_BYTES[c] - HEADER_BYTES;
    // Write the chain from its last block back to its first, so each block knows its successor.
    const blockCount = Math.max(1, Math.ceil(size / perBlock));
    let next = END;
    for (let b = blockCount - 1; b >= 0; b--) {
      const handle = this.#allocBlock(c);
      if (handle === END) {
        if (next !== END) this.free(next);
        return END;
      }
      const start = b * perBlock;
      const end = Math.min(size, start + perBlock);
      this.#fillBlock(handle, next, bytes.subarray(start, end));
      next = handle;
    }
    return next;
  }

  /**
   * Calls `consume` with the payload's bytes and returns its result. For a one-block payload the
   * bytes are a view of shared memory, valid only during the call; a chain is joined into a copy.
   */
  read<T>(handle: number, consume: (bytes: Uint8Array) => T): T {
    const { data, header, blockBytes } = this.#classes[handle & 3];
    const base = (handle >>> 2) * blockBytes;
    const next = header[base / 4];
    const used = header[base / 4 + 1];
    if (next === END)
      return consume(data.subarray(base + HEADER_BYTES, base + HEADER_BYTES + used));
    const parts: Uint8Array[] = [];
    for (let h = handle; h !== END; ) {
      const cls = this.#classes[h & 3];
      const at = (h >>> 2) * cls.blockBytes;
      const length = cls.header[at / 4 + 1];
      parts.push(cls.data.slice(at + HEADER_BYTES, at + HEADER_BYTES + length));
      h = cls.header[at / 4];
    }
    return consume(Buffer.concat(parts));
  }

  /** Frees every block of the payload `handle` names. */
  free(handle: number): void {
    for (let h = handle; h !== END; ) {
      const cls = this.#classes[h & 3];
      const slot = h >>> 2;
      const next = cls.header[(slot * cls.blockBytes) / 4];
      cls.pool.free(cls.pool.idAt(slot));
      h = next;
    }
  }

  /** Blocks in use in each class (an O(blocks) scan, for statistics and tests). */
  blocksInUse(): number[] {
    return this.#classes.map((cls) => cls.pool.countInUse());
  }

  /** Returns this thread's cached free blocks to the shared lists (when a thread goes idle). */
  flushCaches(): void {
    for (const cls of this.#classes) cls.pool.flushCache();
  }

  #allocBlock(c: number): number {
    const id = this.#classes[c].pool.alloc();
    return id === -1 ? END : (id >>> 0) * 4 + c;
  }

  #fillBlock(handle: number, next: number, bytes: Uint8Array): void {
    const { data, header, blockBytes } = this.#classes[handle & 3];
    const base = (handle >>> 2) * blockBytes;
    header[base / 4] = next;
    header[base / 4 + 1] = bytes.length;
    data.set(bytes, base + HEADER_BYTES);
  }
}
