/**
 * TimerHeap: the timer thread's own ordering of pending timers (brpc keeps a private heap too).
 *
 * A 4-ary min-heap over two typed arrays — deadline and timer id (Float64 each): 16 bytes a
 * timer and no object per timer, so a million pending timers cost 16 MB and no garbage
 * collection. A 4-ary heap is shallower than a binary one (half the levels) and its four children
 * sit in one cache line of deadlines, which suits a pop-heavy heap.
 *
 * Cancelled timers are not removed (cancel runs on other threads, and only frees the table slot);
 * their entries stay until they reach the top, where the table says their id is stale, or until a
 * sweep drops them all: the timer thread sweeps when the heap has doubled since the last sweep, so
 * sweeping costs O(1) amortized per insert (brpc PR #3384).
 */

export class TimerHeap {
  #deadlines = new Float64Array(1024);
  #ids = new Float64Array(1024);
  #size = 0;
  /** The timer id of the entry `pop` removed. */
  poppedId = 0;

  get size(): number {
    return this.#size;
  }

  /** Bytes the heap's arrays occupy (its memory grows by doubling). */
  get byteLength(): number {
    return this.#deadlines.byteLength + this.#ids.byteLength;
  }

  /** The earliest deadline, or Infinity when empty. */
  peekDeadline(): number {
    return this.#size === 0 ? Number.POSITIVE_INFINITY : this.#deadlines[0];
  }

  push(deadline: number, id: number): void {
    if (this.#size === this.#deadlines.length) this.#grow();
    this.#siftUp(this.#size++, deadline, id);
  }

  /** Removes the earliest entry into `poppedId`; returns its deadline. */
  pop(): number {
    const deadline = this.#deadlines[0];
    this.poppedId = this.#ids[0];
    const last = --this.#size;
    if (last > 0) this.#siftDown(0, this.#deadlines[last], this.#ids[last]);
    return deadline;
  }

  /** Keeps only the entries for which `live(id)` holds, and restores heap order: O(n). */
  sweep(live: (id: number) => boolean): void {
    let kept = 0;
    for (let i = 0; i < this.#size; i++) {
      if (!live(this.#ids[i])) continue;
      this.#deadlines[kept] = this.#deadlines[i];
      this.#ids[kept] = this.#ids[i];
      kept++;
    }
    this.#size = kept;
    for (let i = (kept - 2) >> 2; i >= 0; i--) this.#siftDown(i, this.#deadlines[i], this.#ids[i]);
  }

  #siftUp(at: number, deadline: number, id: number): void {
    let i = at;
    while (i > 0) {
      const parent = (i - 1) >> 2;
      if (this.#deadlines[parent] <= deadline) break;
      this.#move(parent, i);
      i = parent;
    }
    this.#set(i, deadline, id);
  }

  #siftDown(at: number, deadline: number, id: number): void {
    const size = this.#size;
    const deadlines = this.#deadlines;
    let i = at;
    for (;;) {
      const first = 4 * i + 1;
      if (first >= size) break;
      let child = first;
      const end = Math.min(first + 4, size);
      for (let c = first + 1; c < end; c++) if (deadlines[c] < deadlines[child]) child = c;
      if (deadlines[child] >= deadline) break;
      this.#move(child, i);
      i = child;
    }
    this.#set(i, deadline, id);
  }

  #move(from: number, to: number): void {
    this.#deadlines[to] = this.#deadlines[from];
    this.#ids[to] = this.#ids[from];
  }

  #set(at: number, deadline: number, id: number): void {
    this.#deadlines[at] = deadline;
    this.#ids[at] = id;
  }

  #grow(): void {
    const size = 2 * this.#deadlines.length;
    const deadlines = new Float64Array(size);
    const ids = new Float64Array(size);
    deadlines.set(this.#deadlines);
    ids.set(this.#ids);
    this.#deadlines = deadlines;
    this.#ids = ids;
  }
}
