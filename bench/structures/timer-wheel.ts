/**
 * TimerWheel: the hierarchical timing wheel the timer thread could use instead of its heap — kept
 * here, in the benchmarks, as the measured alternative (bench/timer.ts, "timer thread structure").
 *
 * The geometry is tokio's, on a finer tick: 5 levels of 64 slots over ticks of 1/16 ms, so level
 * 0 spans 4 ms, level 1 256 ms, level 2 16 s, level 3 17 min, level 4 18 h; later deadlines wait
 * in an overflow list. A timer goes to the level of the highest 6-bit group in which its tick
 * differs from the wheel's current tick, in the slot that group names; a bitmap per level finds
 * the next occupied slot. When a slot above level 0 comes due, its timers cascade to lower
 * levels; when a level-0 slot comes due, its timers are due: sorted by deadline, they fire.
 *
 * A timer's tick is its deadline rounded up, so a slot comes due only once every deadline in it
 * has passed: never early, at most one tick (62.5 µs) late from the rounding. Entries live in
 * typed arrays (deadline, timer id, next: 20 bytes) with a free list; each slot is a singly
 * linked list. Like the heap, it leaves cancelled timers in place (the caller checks the state).
 */

const TICK_MS = 1 / 16;
const LEVELS = 5;
const SLOT_BITS = 6;
const SLOTS = 1 << SLOT_BITS;
const RANGE = 2 ** (LEVELS * SLOT_BITS); // ticks a rotation of the top level spans
const NONE = -1;

export class TimerWheel {
  #deadlines = new Float64Array(1024);
  #ids = new Float64Array(1024);
  #next = new Int32Array(1024);
  #used = 0; // entries ever handed out (the arrays' high-water mark)
  #free = NONE; // free entries, linked through #next
  // List heads per level and slot, and per level an occupancy bitmap in two 32-bit words.
  readonly #heads = new Int32Array(LEVELS * SLOTS).fill(NONE);
  readonly #occupied = new Int32Array(LEVELS * 2);
  #overflow = NONE;
  #overflowRotation = 0; // the rotation the overflow list was filled in
  /** The last tick processed: every timer of a tick up to it has been handed out. */
  #elapsed: number;
  // Due timers, sorted by deadline, handed out by pop().
  #due: number[] = [];
  #dueAt = 0;
  poppedId = 0;

  constructor(now: number) {
    this.#elapsed = Math.floor(now / TICK_MS);
  }

  push(deadline: number, id: number): void {
    const entry = this.#allocate();
    this.#deadlines[entry] = deadline;
    this.#ids[entry] = id;
    this.#place(entry);
  }

  /**
   * Moves every timer due at `now` into the due list; `popDue` then hands them out in deadline
   * order. Returns how many are waiting there.
   */
  advance(now: number): number {
    const target = Math.floor(now / TICK_MS);
    for (;;) {
      const next = this.#nextSlot();
      if (next === undefined || next.tick > target) break;
      this.#elapsed = next.tick;
      let entry = this.#take(next.level, next.slot);
      if (next.level === 0) {
        const start = this.#due.length;
        for (; entry !== NONE; entry = this.#next[entry]) this.#due.push(entry);
        this.#sortDue(start);
      } else {
        while (entry !== NONE) {
          const following = this.#next[entry];
          this.#place(entry);
          entry = following;
        }
      }
    }
    if (target > this.#elapsed) this.#elapsed = target;
    if (this.#overflow !== NONE && this.#rotation() !== this.#overflowRotation)
      this.#rescueOverflow();
    return this.#due.length - this.#dueAt;
  }

  /** The next due timer into `poppedId` and its deadline, or NaN if none. */
  popDue(): number {
    if (this.#dueAt === this.#due.length) {
      this.#due.length = 0;
      this.#dueAt = 0;
      return Number.NaN;
    }
    const entry = this.#due[this.#dueAt++];
    this.poppedId = this.#ids[entry];
    const deadline = this.#deadlines[entry];
    this.#release(entry);
    return deadline;
  }

  #rotation(): number {
    return Math.floor(this.#elapsed / RANGE);
  }

  // Puts an entry in the slot its tick belongs to, relative to the current tick.
  #place(entry: number): void {
    const tick = Math.ceil(this.#deadlines[entry] / TICK_MS);
    if (tick <= this.#elapsed) {
      this.#due.push(entry); // already due (scheduled late, or cascaded onto the current tick)
      this.#sortDue(this.#due.length - 1);
      return;
    }
    if (Math.floor(tick / RANGE) !== this.#rotation()) {
      // Beyond this rotation of the top level: placed once the rotation turns.
      this.#overflowRotation = this.#rotation();
      this.#next[entry] = this.#overflow;
      this.#overflow = entry;
      return;
    }
    const low = tick % RANGE;
    const differing = (low ^ (this.#elapsed % RANGE)) | (SLOTS - 1);
    const level = Math.floor((31 - Math.clz32(differing)) / SLOT_BITS);
    const slot = Math.floor(low / 2 ** (SLOT_BITS * level)) & (SLOTS - 1);
    const at = level * SLOTS + slot;
    this.#next[entry] = this.#heads[at];
    this.#heads[at] = entry;
    this.#occupied[2 * level + (slot >> 5)] |= 1 << (slot & 31);
  }

  // The earliest occupied slot over all levels, with the tick it comes due at.
  #nextSlot(): { level: number; slot: number; tick: number } | undefined {
    const elapsedLow = this.#elapsed % RANGE;
    const base = this.#elapsed - elapsedLow;
    for (let level = 0; level < LEVELS; level++) {
      const unit = 2 ** (SLOT_BITS * level);
      const current = Math.floor(elapsedLow / unit) & (SLOTS - 1);
      const slot = this.#firstOccupied(level, current);
      if (slot === NONE) continue;
      // Lower levels are empty: this level's slot is the earliest. Its first tick, at or after
      // now (the current slot of a level above 0 is due at once: it holds timers of this span).
      const span = unit * SLOTS;
      const levelStart = base + Math.floor(elapsedLow / span) * span;
      return { level, slot, tick: Math.max(levelStart + slot * unit, this.#elapsed) };
    }
    return undefined;
  }

  // The first occupied slot of `level` at or after `from` (slots before it are empty: they lie in
  // the past of this rotation), or NONE.
  #firstOccupied(level: number, from: number): number {
    for (let word = from >> 5; word < 2; word++) {
      let bits = this.#occupied[2 * level + word];
      if (word === from >> 5) bits &= ~0 << (from & 31);
      if (bits !== 0) return word * 32 + (31 - Math.clz32(bits & -bits));
    }
    return NONE;
  }

  #take(level: number, slot: number): number {
    const at = level * SLOTS + slot;
    const head = this.#heads[at];
    this.#heads[at] = NONE;
    this.#occupied[2 * level + (slot >> 5)] &= ~(1 << (slot & 31));
    return head;
  }

  // The top level has turned over: overflowed timers may fit now.
  #rescueOverflow(): void {
    if (this.#overflow === NONE) return;
    let entry = this.#overflow;
    this.#overflow = NONE;
    while (entry !== NONE) {
      const following = this.#next[entry];
      this.#place(entry);
      entry = following;
    }
  }

  // Insertion-sorts the due list's tail from `start` into the sorted part before the cursor.
  #sortDue(start: number): void {
    const due = this.#due;
    const deadlines = this.#deadlines;
    for (let i = Math.max(start, this.#dueAt + 1); i < due.length; i++) {
      const entry = due[i];
      const deadline = deadlines[entry];
      let j = i - 1;
      while (j >= this.#dueAt && deadlines[due[j]] > deadline) {
        due[j + 1] = due[j];
        j--;
      }
      due[j + 1] = entry;
    }
  }

  #allocate(): number {
    if (this.#free !== NONE) {
      const entry = this.#free;
      this.#free = this.#next[entry];
      return entry;
    }
    if (this.#used === this.#deadlines.length) this.#grow();
    return this.#used++;
  }

  #release(entry: number): void {
    this.#next[entry] = this.#free;
    this.#free = entry;
  }

  #grow(): void {
    const size = 2 * this.#deadlines.length;
    const grown = <T extends Float64Array | Int32Array>(old: T, fresh: T) => {
      fresh.set(old);
      return fresh;
    };
    this.#deadlines = grown(this.#deadlines, new Float64Array(size));
    this.#ids = grown(this.#ids, new Float64Array(size));
    this.#next = grown(this.#next, new Int32Array(size));
  }
}
