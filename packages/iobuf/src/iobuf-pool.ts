/**
 * IOBufPool: one thread's view of a shared block pool — what its IOBufs hold, where its appends
 * write, and the memory of its own that it wrapped without copying.
 *
 * References are counted in two tiers. Each thread counts its IOBufs' references to a block in a
 * plain Int32Array (`holds`); only the first hold of a block on a thread adds to the block's
 * shared, atomic count, and only the last one drops it. Cutting, appending and releasing IOBufs
 * on one thread therefore costs no atomic operation, and a block freed here is seen as free by
 * every thread once the last thread lets go.
 *
 * Appends copy into the thread's write block (brpc's thread-local block): data goes after the
 * block's write cursor, and bytes once written never change, so IOBufs on any thread can share
 * them without locks. A new block is taken when the write block is full — first from a stash of
 * up to 8 blocks this thread was the last to let go of (brpc keeps 8 too): the most recently
 * freed block is still in the CPU's cache, where the pool's own cache is first-in first-out.
 *
 * User data (`appendUserData`) is memory the caller owns and that weft never copies: it gets a
 * number above the pool's blocks, in a table of this thread, and is forgotten when no IOBuf
 * refers to it any more (its `onRelease` then runs). It cannot cross threads as is: `share()`
 * copies it into blocks.
 */
import { isMainThread } from 'node:worker_threads';
import {
  BlockPhase,
  BlockPool,
  type BlockPoolHandle,
  type BlockPoolOptions,
} from './block-pool.ts';
import { type LeakCheck, LeakNet } from './leak-net.ts';

/** Options of `IOBufPool.create` / `attach` that belong to this thread's view. */
export interface IOBufPoolThreadOptions {
  /** What to do with IOBufs garbage-collected without `release()` (default 'report'). */
  leakCheck?: LeakCheck;
}

/** Options of `IOBufPool.create`. */
export interface IOBufPoolOptions extends BlockPoolOptions, IOBufPoolThreadOptions {}

/** Counters of a pool, as this thread sees it. */
export interface IOBufPoolStats {
  blockSize: number;
  maxBlocks: number;
  /** Blocks holding data, over all threads (an O(maxBlocks) scan). */
  blocksInUse: number;
  /** Blocks neither holding data nor a hand-over record (threads' caches included). */
  freeBlocks: number;
  /** Hand-over records of shared IOBufs not yet taken up by `fromShared`. */
  recordsInFlight: number;
  /** Blocks whose memory exists so far (the data buffer grows on demand). */
  mappedBlocks: number;
  /** Free blocks in this thread's caches (its stash counts in `blocksInUse` too). */
  cachedHere: number;
  /** Blocks this thread's IOBufs (and its write block) refer to. */
  heldHere: number;
  /** Pieces of user data this thread's IOBufs refer to. */
  userDataHere: number;
  /** IOBufs of this thread that were garbage-collected without release (their blocks were freed). */
  leaked: number;
}

/** What a user-data piece is: the caller's bytes, and what to call when no IOBuf refers to them. */
interface UserData {
  bytes: Uint8Array;
  holds: number;
  onRelease: (() => void) | undefined;
}

/** Blocks a thread keeps for its next write blocks. */
const STASH = 8;

/** This thread's view of each pool, by pool id. */
const views = new Map<number, IOBufPool>();
/**
 * The same, by control buffer object: a thread taking up many descriptors from one message finds
 * the view without reading the pool's header (~0.8 µs) each time.
 */
const viewsByControl = new WeakMap<SharedArrayBuffer, IOBufPool>();
let defaultPool: IOBufPool | undefined;

export class IOBufPool {
  /** The shared part: blocks, their reference counts, the data buffer. */
  readonly blocks: BlockPool;
  readonly blockSize: number;
  /** Block numbers from here on name user data of this thread. */
  readonly userBase: number;
  readonly leakNet: LeakNet;
  readonly #holds: Int32Array;
  #heldBlocks = 0;
  readonly #userData: (UserData | undefined)[] = [];
  readonly #freeUserData: number[] = [];
  #userDataCount = 0;
  #writeBlock = -1;
  #writeCursor = 0;
  // Blocks this thread let go of last, unreferenced but not freed; the newest on top.
  readonly #stash = new Int32Array(STASH);
  #stashed = 0;

  /**
   * A worker thread that ends — returning, process.exit() or an uncaught error — lets go of every
   * pool: its IOBufs end with it. (`worker.terminate()` runs no code on the thread: blocks it held
   * stay out of the pool.)
   */
  static #atThreadExit = () => {
    for (const view of views.values()) view.#letGo();
  };

  /** Creates a pool; this thread's view of it. Other threads attach with `handle`. */
  static create(options: IOBufPoolOptions = {}): IOBufPool {
    return IOBufPool.attach(BlockPool.create(options).handle, options);
  }

  /** This thread's view of the pool `handle` names (one per thread and pool). */
  static attach(handle: BlockPoolHandle, options: IOBufPoolThreadOptions = {}): IOBufPool {
    const control = (handle as BlockPoolHandle | null)?.control;
    // (Like a pool id already known below, a known control buffer decides: the data buffer
    // that comes with it is not read.)
    const known = typeof control === 'object' ? viewsByControl.get(control) : undefined;
    if (known !== undefined) return known;
    const blocks = BlockPool.attach(handle);
    let view = views.get(blocks.id);
    if (view === undefined) {
      view = new IOBufPool(blocks, options.leakCheck ?? 'report');
      views.set(blocks.id, view);
    }
    viewsByControl.set(handle.control, view);
    return view;
  }

  /** This thread's default pool, created on first use with the default options. */
  static default(): IOBufPool {
    defaultPool ??= IOBufPool.create();
    return defaultPool;
  }

  private constructor(blocks: BlockPool, leakCheck: LeakCheck) {
    this.blocks = blocks;
    this.blockSize = blocks.blockSize;
    this.userBase = blocks.maxBlocks;
    this.#holds = new Int32Array(blocks.maxBlocks);
    this.leakNet = new LeakNet(this, leakCheck);
    if (!isMainThread && views.size === 0) process.once('exit', IOBufPool.#atThreadExit);
  }

  /** The data buffer's bytes, as far as this thread uses them. */
  get bytes(): Uint8Array {
    return this.blocks.bytes;
  }

  /** Plain data another thread attaches with. */
  get handle(): BlockPoolHandle {
    return this.blocks.handle;
  }

  /** Adds one reference from this thread to block (or user data) `block`. */
  hold(block: number): void {
    if (block >= this.userBase) {
      (this.#userData[block - this.userBase] as UserData).holds++;
    } else if (this.#holds[block]++ === 0) {
      this.blocks.retain(block);
      this.#heldBlocks++;
    }
  }

  /** Drops one reference from this thread to `block`; the last one lets the block go. */
  drop(block: number): void {
    if (block >= this.userBase) {
      this.#dropUserData(block - this.userBase);
    } else if (--this.#holds[block] === 0) {
      this.#heldBlocks--;
      if (!this.blocks.releaseKeeping(block)) return;
      if (this.#stashed < STASH) this.#stash[this.#stashed++] = block;
      else this.blocks.free(block);
    }
  }

  /**
   * Takes over a reference that a hand-over record held on `block`: this thread's first hold of
   * it keeps the record's shared reference; a later one gives it back.
   */
  adopt(block: number): void {
    if (this.#holds[block]++ === 0) this.#heldBlocks++;
    else this.blocks.release(block);
  }

  /**
   * Takes a free block into `phase` (a hand-over record's). When none is free, this thread's
   * stash goes back to the pool first: a stashed block is free, only kept for the next write.
   */
  allocate(phase: number): number {
    try {
      return this.blocks.allocate(phase);
    } catch (error) {
      if (this.#stashed === 0) throw error;
      this.#freeStash();
      return this.blocks.allocate(phase);
    }
  }

  /**
   * Gives one of this thread's holds on `block` to a hand-over record. The thread's last hold
   * passes its shared reference on as it is (no atomic operation); otherwise the record takes a
   * shared reference of its own.
   */
  handOver(block: number): void {
    if (this.#holds[block] === 1) {
      this.#holds[block] = 0;
      this.#heldBlocks--;
    } else {
      this.blocks.retain(block);
      this.#holds[block]--;
    }
  }

  /** The bytes `block` lives in (the data buffer, or the user data itself). */
  bytesOf(block: number): Uint8Array {
    return block < this.userBase
      ? this.bytes
      : (this.#userData[block - this.userBase] as UserData).bytes;
  }

  /** Where `block` starts in `bytesOf(block)`. */
  baseOf(block: number): number {
    return block < this.userBase ? this.blocks.offsetOf(block) : 0;
  }

  /**
   * The write block, with at least one free byte (taking a new one if the current is full). The
   * bytes from `writeCursor` on are this thread's to fill; `wrote(n)` moves the cursor past them.
   */
  writeBlock(): number {
    if (this.#writeBlock === -1 || this.#writeCursor === this.blockSize) {
      let block: number;
      if (this.#stashed > 0) {
        block = this.#stash[--this.#stashed];
        this.blocks.reuse(block);
      } else {
        block = this.blocks.allocate(BlockPhase.DATA) >>> 0;
      }
      // The write block is itself a hold of this thread (the block's first reference).
      this.#holds[block] = 1;
      this.#heldBlocks++;
      if (this.#writeBlock !== -1) this.drop(this.#writeBlock);
      this.#writeBlock = block;
      this.#writeCursor = 0;
    }
    return this.#writeBlock;
  }

  get writeCursor(): number {
    return this.#writeCursor;
  }

  wrote(count: number): void {
    this.#writeCursor += count;
  }

  /** Registers user data and returns its block number (with no hold yet). */
  addUserData(bytes: Uint8Array, onRelease: (() => void) | undefined): number {
    const entry: UserData = { bytes, holds: 0, onRelease };
    const index = this.#freeUserData.pop() ?? this.#userData.length;
    this.#userData[index] = entry;
    this.#userDataCount++;
    return this.userBase + index;
  }

  #dropUserData(index: number): void {
    const entry = this.#userData[index] as UserData;
    if (--entry.holds > 0) return;
    this.#userData[index] = undefined;
    this.#freeUserData.push(index);
    this.#userDataCount--;
    entry.onRelease?.();
  }

  /**
   * Gives this thread's write block and cached free blocks back (when the thread is done with
   * IOBufs for a while: blocks cached here are invisible to other threads).
   */
  trim(): void {
    if (this.#writeBlock !== -1) {
      this.drop(this.#writeBlock);
      this.#writeBlock = -1;
    }
    this.#freeStash();
    this.blocks.slots.flushCache();
  }

  // Drops every hold of this thread as if each of its IOBufs were released, then trims.
  #letGo(): void {
    const holds = this.#holds;
    for (let block = 0; block < holds.length; block++) {
      if (holds[block] === 0) continue;
      holds[block] = 0;
      this.blocks.release(block);
    }
    this.#heldBlocks = 0;
    this.#writeBlock = -1;
    this.trim();
  }

  #freeStash(): void {
    while (this.#stashed > 0) this.blocks.free(this.#stash[--this.#stashed]);
  }

  stats(): IOBufPoolStats {
    const { blocks } = this;
    return {
      blockSize: this.blockSize,
      maxBlocks: blocks.maxBlocks,
      blocksInUse: blocks.slots.countInUse(BlockPhase.DATA),
      freeBlocks: blocks.maxBlocks - blocks.slots.countInUse(),
      recordsInFlight:
        blocks.slots.countInUse(BlockPhase.RECORD) + blocks.slots.countInUse(BlockPhase.READING),
      mappedBlocks: blocks.mappedBlocks,
      cachedHere: blocks.slots.cached + this.#stashed,
      heldHere: this.#heldBlocks,
      userDataHere: this.#userDataCount,
      leaked: this.leakNet.leaked,
    };
  }
}
