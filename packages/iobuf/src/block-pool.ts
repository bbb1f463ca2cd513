/**
 * BlockPool: the shared part of an IOBuf pool — fixed-size blocks in one SharedArrayBuffer, each
 * with an atomic reference count, handed out under versioned ids (brpc's IOBuf Block and its
 * ResourcePool).
 *
 * Two buffers:
 * - control: a header, a SlotPool over the block numbers (its per-thread caches are brpc's
 *   thread-local block cache over a shared free list) and one int32 reference count per block;
 * - data: a header line, then the blocks, in a growable SharedArrayBuffer of `maxBlocks ×
 *   blockSize` (plus the line) at most. It starts small and grows (any thread may grow it; each
 *   thread renews its views when it first meets a block beyond them) as blocks with higher
 *   numbers are first used, so a pool reserves address space for its maximum but only commits
 *   what it has used.
 *
 * Both headers carry the pool's random id. A thread keeps one view per pool id, however many
 * copies of the buffers reach it (each postMessage delivers new SharedArrayBuffer objects for the
 * same memory), and a data buffer whose id differs from its control buffer's is refused.
 *
 * A block's slot phase says what it holds: DATA (bytes that IOBufs refer to) or a RECORD (the
 * reference list of an IOBuf handed to another thread, see handoff-record.ts), which its reader
 * claims by moving it to READING. The reference count of a DATA block counts the threads holding
 * it (each thread counts its own IOBufs' references without atomics, see IOBufPool) plus the
 * hand-over records that name it; the block is freed when it drops to zero.
 */
import {
  CACHE_LINE,
  ErrorCode,
  magic,
  readHeader,
  requireInteger,
  SharedLayout,
  SlotPool,
  WeftError,
  WeftRangeError,
  writeHeader,
} from '@weft/shm';

/** What a thread needs to attach to a pool (structured-cloneable). */
export interface BlockPoolHandle {
  control: SharedArrayBuffer;
  data: SharedArrayBuffer;
}

/** Options of `BlockPool.create`. */
export interface BlockPoolOptions {
  /** Bytes per block: a multiple of 64 from 256 to 1 MiB (default 8192, as brpc). */
  blockSize?: number;
  /** Blocks at most (default 65,536: 512 MiB of 8 KiB blocks, reserved, not committed). */
  maxBlocks?: number;
  /** Blocks the data buffer grows by at a time (default 128). */
  growBlocks?: number;
}

/** Slot phases of a block. */
export const BlockPhase = { DATA: 1, RECORD: 2, READING: 3 } as const;

const TAG = magic('IOBP');
const DATA_TAG = magic('IOBD');
const HEADER = 0;
/** Bytes before the first block in the data buffer: its header line. */
const DATA_HEADER = CACHE_LINE;

function plan(maxBlocks: number) {
  const layout = new SharedLayout();
  const header = layout.reserve(CACHE_LINE);
  const slots = layout.reserve(SlotPool.bytesFor(maxBlocks));
  const counts = layout.reserve(4 * maxBlocks);
  return { header, slots, counts, layout };
}

/** This thread's view of each pool, by pool id. */
const attached = new Map<number, BlockPool>();

/** A pool id from two random int32 halves: a safe integer, different for every pool. */
function poolId(high: number, low: number): number {
  return (high >>> 11) * 2 ** 32 + (low >>> 0);
}

export class BlockPool {
  readonly handle: BlockPoolHandle;
  /** This pool's random id (the same on every thread). */
  readonly id: number;
  readonly blockSize: number;
  readonly maxBlocks: number;
  readonly #growBlocks: number;
  readonly slots: SlotPool;
  readonly #counts: Int32Array;
  /**
   * The data buffer as bytes, int32 words and a DataView, as far as this thread has needed it.
   * Fixed-length views, renewed when a block beyond them is used (`cover`): length-tracking views
   * of a growable buffer cost 2–20× more per access in V8.
   */
  bytes!: Uint8Array;
  words!: Int32Array;
  view!: DataView;

  static create(options: BlockPoolOptions = {}): BlockPool {
    const blockSize = options.blockSize ?? 8192;
    requireInteger(blockSize, 256, 2 ** 20, 'IOBuf pool blockSize');
    if (blockSize % 64 !== 0) {
      throw new WeftRangeError(
        ErrorCode.OUT_OF_RANGE,
        `IOBuf pool blockSize must be a multiple of 64, got ${blockSize}`,
      );
    }
    const maxBlocks = options.maxBlocks ?? 65_536;
    requireInteger(maxBlocks, 1, Math.floor(2 ** 35 / blockSize), 'IOBuf pool maxBlocks');
    const growBlocks = Math.min(options.growBlocks ?? 128, maxBlocks);
    requireInteger(growBlocks, 1, maxBlocks, 'IOBuf pool growBlocks');
    const layout = plan(maxBlocks);
    const control = layout.layout.allocate();
    SlotPool.create(control, layout.slots, maxBlocks);
    const data = new SharedArrayBuffer(DATA_HEADER + growBlocks * blockSize, {
      maxByteLength: DATA_HEADER + maxBlocks * blockSize,
    });
    const [high, low] = crypto.getRandomValues(new Int32Array(2));
    writeHeader(new Int32Array(data, 0, 16), DATA_TAG, [high, low]);
    writeHeader(new Int32Array(control, HEADER, 16), TAG, [
      blockSize,
      maxBlocks,
      growBlocks,
      high,
      low,
    ]);
    return BlockPool.attach({ control, data });
  }

  /**
   * This thread's view of the pool `handle` names (one per thread and pool). E_BAD_REGION if the
   * buffers are not a pool's, or not the same pool's.
   */
  static attach(handle: BlockPoolHandle): BlockPool {
    const control = (handle as BlockPoolHandle | null)?.control;
    const [blockSize, maxBlocks, growBlocks, high, low] = readHeader(
      control,
      HEADER,
      TAG,
      'IOBuf pool',
      5,
    );
    const id = poolId(high, low);
    const known = attached.get(id);
    if (known !== undefined) return known;
    const data = handle.data;
    const [dataHigh, dataLow] = readHeader(data, 0, DATA_TAG, 'IOBuf pool data', 2);
    if (
      dataHigh !== high ||
      dataLow !== low ||
      (data as SharedArrayBuffer).maxByteLength !== DATA_HEADER + maxBlocks * blockSize
    ) {
      throw new WeftError(
        ErrorCode.BAD_REGION,
        'an IOBuf pool handle needs the data buffer of the same pool as its control buffer',
      );
    }
    const pool = new BlockPool(
      { control: control as SharedArrayBuffer, data: data as SharedArrayBuffer },
      id,
      blockSize,
      maxBlocks,
      growBlocks,
    );
    attached.set(id, pool);
    return pool;
  }

  private constructor(
    handle: BlockPoolHandle,
    id: number,
    blockSize: number,
    maxBlocks: number,
    growBlocks: number,
  ) {
    this.handle = handle;
    this.id = id;
    this.blockSize = blockSize;
    this.maxBlocks = maxBlocks;
    this.#growBlocks = growBlocks;
    const layout = plan(maxBlocks);
    this.slots = SlotPool.attach(handle.control, layout.slots);
    this.#counts = new Int32Array(handle.control, layout.counts, maxBlocks);
    this.#renewViews();
  }

  /**
   * Takes a free block into `phase` with a reference count of 1, mapping its memory if it is the
   * first use of that part of the buffer; returns its versioned id. E_CAPACITY when none is free.
   */
  allocate(phase: number): number {
    const id = this.slots.alloc(phase);
    if (id === -1) {
      throw new WeftError(
        ErrorCode.CAPACITY,
        `the IOBuf pool is out of blocks: all ${this.maxBlocks} are in use (or cached by other ` +
          'threads); release IOBufs sooner or raise the `maxBlocks` option',
      );
    }
    const block = id >>> 0;
    if (this.offsetOf(block + 1) > this.handle.data.byteLength) this.#map(block);
    this.cover(block);
    Atomics.store(this.#counts, block, 1);
    return id;
  }

  /** Adds `count` references to a DATA block that is alive (someone holds a reference). */
  retain(block: number, count = 1): void {
    Atomics.add(this.#counts, block, count);
  }

  /** Drops one reference to a DATA block; frees it with the last. */
  release(block: number): void {
    if (this.releaseKeeping(block)) this.free(block);
  }

  /**
   * Drops one reference to a DATA block; true if it was the last: the caller then owns the
   * block, unreferenced but not freed, to `free` or `reuse` (a thread's stash of hot blocks).
   */
  releaseKeeping(block: number): boolean {
    return Atomics.sub(this.#counts, block, 1) === 1;
  }

  /** Gives a block its first reference again (one that `releaseKeeping` kept). */
  reuse(block: number): void {
    Atomics.store(this.#counts, block, 1);
  }

  /** Frees a DATA block that nobody references (one that `releaseKeeping` kept). */
  free(block: number): void {
    this.slots.free(this.slots.idAt(block), BlockPhase.DATA);
  }

  /** Makes this thread's views reach `block` (another thread may have grown the buffer for it). */
  cover(block: number): void {
    if (this.offsetOf(block + 1) > this.bytes.length) this.#renewViews();
  }

  #renewViews(): void {
    const { data } = this.handle;
    const length = data.byteLength;
    this.bytes = new Uint8Array(data, 0, length);
    this.words = new Int32Array(data, 0, length / 4);
    this.view = new DataView(data, 0, length);
  }

  /** Where `block` starts in the data buffer. */
  offsetOf(block: number): number {
    return DATA_HEADER + block * this.blockSize;
  }

  /** Blocks whose memory exists so far. */
  get mappedBlocks(): number {
    return (this.handle.data.byteLength - DATA_HEADER) / this.blockSize;
  }

  // Grows the data buffer to cover `block`, in steps of growBlocks. Another thread may grow it at
  // the same moment: a grow to less than the current length fails, and is fine if it now covers
  // the block.
  #map(block: number): void {
    const data = this.handle.data;
    const step = this.#growBlocks;
    const blocks = Math.min(this.maxBlocks, Math.ceil((block + 1) / step) * step);
    const needed = this.offsetOf(block + 1);
    while (data.byteLength < needed) {
      try {
        data.grow(this.offsetOf(blocks));
      } catch (error) {
        if (data.byteLength < needed) throw error;
      }
    }
  }
}
