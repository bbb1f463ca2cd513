/**
 * SlotPool: a fixed table of slots handed out under versioned ids (brpc's ResourcePool +
 * bthread_t).
 *
 * `alloc()` returns `id = version * 2**32 + slot` (see versioned-id.ts); `free(id)` bumps the
 * slot's version, so every id handed out before is stale from then on and `resolve` and `free`
 * reject it. Task ids, timer ids and subscriber ids are SlotPool ids; what a slot holds lives in
 * the owner's own arrays, indexed by slot.
 *
 * Each slot has one state word, `version << 2 | phase`: phase 0 is free, 1 to 3 are in use.
 * Most owners only use phase 1; an owner with a lifecycle of its own (a timer is scheduled, then
 * running) keeps it in the phase, where one CAS moves it on and the version check comes free.
 * `alloc(phase)` sets the phase; `free(id, phase)` replaces `version << 2 | phase` by
 * `nextVersion << 2` with one compare-and-swap. The CAS is what makes bad ids harmless: a stale
 * id, a double free racing from two threads, or a forged id of a free slot all fail it, so no slot
 * ever enters the free list twice and no id is handed out twice.
 *
 * Free slots move the way brpc moves them, to keep the shared list off the hot path:
 * - each attached instance (one per thread) keeps a private FIFO cache of up to 2 × `chunk`
 *   free slots; `alloc` and `free` normally touch only that cache and the slot's state word;
 * - when the cache is empty it takes a whole chunk (a chain of up to `chunk` slots linked through
 *   `next`) from the shared list; when full it gives its `chunk` oldest slots back as one chain;
 * - the shared list is a Treiber stack of chains, lock-free: its head packs a 32-bit tag with the
 *   top chain's first slot in one 64-bit word, and the tag changes on every push and pop, so a
 *   stalled thread's CAS cannot succeed on a head that was popped and pushed back (ABA).
 * 64-bit atomics need BigInts, which cost ~60 ns per stack operation here; the cache pays that
 * once per `chunk` operations. With `chunk: 1` every second operation goes to the shared stack.
 *
 * The cache is FIFO, not LIFO, on purpose: a slot comes back only after the others in the cache
 * have been used, so a busy pool reuses each slot — and spends its 2^21 versions — far more slowly
 * than a stack would, and a stale id stays detectable for longer.
 *
 * The price of caches: slots in one thread's cache are invisible to the others, so `alloc` can
 * return -1 while up to 2 × `chunk` - 1 slots per other thread sit in caches. The default `chunk`
 * shrinks with the capacity (at most capacity / 64) to keep that small, and `flushCache()` hands a
 * thread's cached slots back (call it when a thread goes idle or exits).
 */
import { requireCapacity, requireInteger } from './checks.ts';
import { alignToLine, CACHE_LINE, magic, openRegion, readHeader, writeHeader } from './region.ts';
import { isWellFormedId, makeId, nextVersion, SLOT_SPACE } from './versioned-id.ts';

const TAG = magic('SLOT');
const MAX_CAPACITY = 2 ** 28;
const MAX_CHUNK = 1024;
const DEFAULT_CHUNK = 32;

// The shared stack's head: high 32 bits a tag, low 32 bits (first slot of the top chain) + 1.
const LOW_BITS = 0xffff_ffffn;
const TAG_BITS = 0xffff_ffff_0000_0000n;
const TAG_ONE = 0x1_0000_0000n;

const PHASE_BITS = 2;
const PHASES = (1 << PHASE_BITS) - 1; // mask of the phase; phase 0 is free

/** The in-use phase a slot gets unless its owner says otherwise. */
const IN_USE = 1;

function requirePhase(phase: number): void {
  if (phase !== 1 && phase !== 2 && phase !== 3) requireInteger(phase, 1, PHASES, 'SlotPool phase');
}
const FIRST_VERSION = 1;
const END = -1;

/** Options of `SlotPool.create`. */
export interface SlotPoolOptions {
  /**
   * Slots moved between a thread's cache and the shared list at once, 1 to 1024. Default:
   * min(32, capacity / 64), at least 1.
   */
  chunk?: number;
}

export class SlotPool {
  /** The SharedArrayBuffer holding this pool. */
  readonly buffer: SharedArrayBuffer;
  /** Where this pool's region starts in `buffer`. */
  readonly byteOffset: number;
  /** Number of slots. */
  readonly capacity: number;
  /** Slots moved between a thread's cache and the shared list at once. */
  readonly chunk: number;
  readonly #freeHead: BigUint64Array;
  readonly #state: Int32Array;
  readonly #next: Int32Array;
  readonly #chunkNext: Int32Array;
  // This thread's cache: a FIFO ring of free slots.
  readonly #cache: Int32Array;
  #cacheStart = 0;
  #cached = 0;

  /** Bytes needed for a pool of `capacity` slots (12 bytes a slot, plus two lines). */
  static bytesFor(capacity: number): number {
    requireCapacity(capacity, 1, MAX_CAPACITY, 'SlotPool capacity');
    return 2 * CACHE_LINE + 3 * alignToLine(capacity * 4);
  }

  /** Creates a pool with every slot free at version 1, in the region at `byteOffset` of `buffer`. */
  static create(
    buffer: SharedArrayBuffer,
    byteOffset: number,
    capacity: number,
    options?: SlotPoolOptions,
  ): SlotPool {
    const chunk = options?.chunk ?? Math.min(DEFAULT_CHUNK, Math.max(1, Math.floor(capacity / 64)));
    requireInteger(chunk, 1, MAX_CHUNK, 'SlotPool chunk');
    const words = openRegion(buffer, byteOffset, SlotPool.bytesFor(capacity), 'SlotPool');
    words.fill(0);
    const pool = new SlotPool(buffer, byteOffset, capacity, chunk);
    pool.#state.fill(FIRST_VERSION << PHASE_BITS);
    // Chain the slots into chunks, lowest slots on top, so a fresh pool hands out 0, 1, 2, ...
    for (let first = 0; first < capacity; first += chunk) {
      const last = Math.min(first + chunk, capacity) - 1;
      for (let slot = first; slot < last; slot++) pool.#next[slot] = slot + 1;
      pool.#next[last] = END;
      pool.#chunkNext[first] = first + chunk < capacity ? first + chunk : END;
    }
    pool.#freeHead[0] = 1n; // tag 0, top chain starts at slot 0
    writeHeader(words, TAG, [capacity, chunk]);
    return pool;
  }

  /** Attaches, on any thread, to the pool created at `byteOffset` of `buffer`. */
  static attach(buffer: SharedArrayBuffer, byteOffset: number): SlotPool {
    const [capacity, chunk] = readHeader(buffer, byteOffset, TAG, 'SlotPool', 2);
    openRegion(buffer, byteOffset, SlotPool.bytesFor(capacity), 'SlotPool');
    return new SlotPool(buffer, byteOffset, capacity, chunk);
  }

  private constructor(
    buffer: SharedArrayBuffer,
    byteOffset: number,
    capacity: number,
    chunk: number,
  ) {
    this.buffer = buffer;
    this.byteOffset = byteOffset;
    this.capacity = capacity;
    this.chunk = chunk;
    const arrayBytes = alignToLine(capacity * 4);
    let at = byteOffset + CACHE_LINE;
    this.#freeHead = new BigUint64Array(buffer, at, 1);
    at += CACHE_LINE;
    this.#state = new Int32Array(buffer, at, capacity);
    at += arrayBytes;
    this.#next = new Int32Array(buffer, at, capacity);
    at += arrayBytes;
    this.#chunkNext = new Int32Array(buffer, at, capacity);
    this.#cache = new Int32Array(2 * chunk);
  }

  /**
   * Takes a free slot into `phase` (1 to 3, default 1) and returns its id, or -1 when no slot is
   * free (see the cache note).
   */
  alloc(phase = IN_USE): number {
    requirePhase(phase);
    if (this.#cached === 0 && !this.#refill()) return -1;
    const slot = this.#cache[this.#cacheStart];
    this.#cacheStart = this.#cacheStart + 1 === this.#cache.length ? 0 : this.#cacheStart + 1;
    this.#cached--;
    // Nobody else writes the state of a free slot (every free's CAS expects an in-use phase), and
    // this thread got the slot through its own free or a synchronizing CAS on the shared stack,
    // so a plain read sees the latest state.
    const free = this.#state[slot];
    Atomics.store(this.#state, slot, free | phase);
    return makeId(free >> PHASE_BITS, slot);
  }

  /**
   * Frees the slot `id` names, if it is in `phase` (default 1), and makes `id` stale. Returns
   * false, changing nothing, for a stale, already freed, foreign or malformed id, or another phase.
   */
  free(id: number, phase = IN_USE): boolean {
    requirePhase(phase);
    const slot = this.#slotOf(id);
    if (slot === -1) return false;
    const version = (id - slot) / SLOT_SPACE;
    const held = (version << PHASE_BITS) | phase;
    const freed = nextVersion(version) << PHASE_BITS;
    if (Atomics.compareExchange(this.#state, slot, held, freed) !== held) return false;
    if (this.#cached === this.#cache.length) this.#giveBack(this.chunk);
    const end = this.#cacheStart + this.#cached;
    this.#cache[end < this.#cache.length ? end : end - this.#cache.length] = slot;
    this.#cached++;
    return true;
  }

  /** Moves slot `id` from phase `from` to phase `to` (both 1 to 3); false if it was not in `from`. */
  setPhase(id: number, from: number, to: number): boolean {
    requirePhase(from);
    requirePhase(to);
    const slot = this.#slotOf(id);
    if (slot === -1) return false;
    const version = (id - slot) / SLOT_SPACE;
    const held = (version << PHASE_BITS) | from;
    return Atomics.compareExchange(this.#state, slot, held, (version << PHASE_BITS) | to) === held;
  }

  /** The phase of slot `id` (1 to 3), or 0 for a stale, free, foreign or malformed id. */
  phaseOf(id: number): number {
    const slot = this.#slotOf(id);
    if (slot === -1) return 0;
    const state = Atomics.load(this.#state, slot);
    return state >> PHASE_BITS === (id - slot) / SLOT_SPACE ? state & PHASES : 0;
  }

  /** The slot `id` names while it is in use, or -1 for a stale, foreign or malformed id. */
  resolve(id: number): number {
    return this.phaseOf(id) === 0 ? -1 : id >>> 0;
  }

  /** The id of `slot` if it is in use, else -1. */
  idAt(slot: number): number {
    requireInteger(slot, 0, this.capacity - 1, 'SlotPool slot');
    const state = Atomics.load(this.#state, slot);
    return state & PHASES ? makeId(state >> PHASE_BITS, slot) : -1;
  }

  // The slot of a well-formed id within this pool, else -1.
  #slotOf(id: number): number {
    if (!isWellFormedId(id)) return -1;
    const slot = id >>> 0;
    return slot < this.capacity ? slot : -1;
  }

  /**
   * Slots in use — in `phase` if given, in any phase if not — counted by scanning every slot:
   * O(capacity), for statistics and tests.
   */
  countInUse(phase?: number): number {
    if (phase !== undefined) requirePhase(phase);
    let inUse = 0;
    for (let slot = 0; slot < this.capacity; slot++) {
      const current = Atomics.load(this.#state, slot) & PHASES;
      if (phase === undefined ? current !== 0 : current === phase) inUse++;
    }
    return inUse;
  }

  /** Free slots in this thread's cache (invisible to other threads until given back). */
  get cached(): number {
    return this.#cached;
  }

  /** Gives every slot in this thread's cache back to the shared list. */
  flushCache(): void {
    if (this.#cached > 0) this.#giveBack(this.#cached);
  }

  // Moves the `count` oldest cached slots to the shared stack as one chain.
  #giveBack(count: number): void {
    const cache = this.#cache;
    const first = cache[this.#cacheStart];
    let slot = first;
    for (let i = 1; i < count; i++) {
      this.#cacheStart = this.#cacheStart + 1 === cache.length ? 0 : this.#cacheStart + 1;
      const following = cache[this.#cacheStart];
      this.#next[slot] = following;
      slot = following;
    }
    this.#next[slot] = END;
    this.#cacheStart = this.#cacheStart + 1 === cache.length ? 0 : this.#cacheStart + 1;
    this.#cached -= count;
    this.#pushChain(first);
  }

  // Takes one chain from the shared stack into the (empty) cache; false when the stack is empty.
  #refill(): boolean {
    const first = this.#popChain();
    if (first === END) return false;
    this.#cacheStart = 0;
    for (let slot = first; slot !== END; slot = this.#next[slot])
      this.#cache[this.#cached++] = slot;
    return true;
  }

  #pushChain(first: number): void {
    const head = this.#freeHead;
    for (;;) {
      const seen = Atomics.load(head, 0);
      // Published by the CAS below: a thread that pops this chain reads it after that CAS.
      this.#chunkNext[first] = Number(seen & LOW_BITS) - 1;
      const replacement = BigInt.asUintN(64, (seen & TAG_BITS) + TAG_ONE) | BigInt(first + 1);
      if (Atomics.compareExchange(head, 0, seen, replacement) === seen) return;
    }
  }

  #popChain(): number {
    const head = this.#freeHead;
    for (;;) {
      const seen = Atomics.load(head, 0);
      const first = Number(seen & LOW_BITS) - 1;
      if (first === END) return END;
      // If another thread pops `first` meanwhile, this read may be stale, but the tag has then
      // changed and the CAS below fails.
      const after = this.#chunkNext[first];
      const replacement = BigInt.asUintN(64, (seen & TAG_BITS) + TAG_ONE) | BigInt(after + 1);
      if (Atomics.compareExchange(head, 0, seen, replacement) === seen) return first;
    }
  }
}
