/**
 * LocalTimers: a group's own timers, for `sleep` and join timeouts.
 *
 * A stand-in until weft's timer thread exists (the timers package): each group keeps a binary
 * min-heap of deadlines and fires the due ones from its loop; a group with timers parks no longer
 * than its nearest deadline. Cancelled timers are only marked, and dropped when they reach the top
 * of the heap, so cancelling costs nothing but a flag.
 *
 * The clock is `performance.now()`: monotonic, and the group is its only reader.
 */

/** A scheduled callback; `cancel` stops it from firing. */
export class LocalTimer {
  readonly deadline: number;
  readonly #fire: () => void;
  #cancelled = false;

  constructor(deadline: number, fire: () => void) {
    this.deadline = deadline;
    this.#fire = fire;
  }

  cancel(): void {
    this.#cancelled = true;
  }

  /** Runs the callback unless cancelled. */
  run(): void {
    if (!this.#cancelled) this.#fire();
  }

  get cancelled(): boolean {
    return this.#cancelled;
  }
}

export class LocalTimers {
  readonly #heap: LocalTimer[] = [];

  /** Number of timers scheduled (cancelled ones included until they are dropped). */
  get size(): number {
    return this.#heap.length;
  }

  /** Calls `fire` after `delayMs` milliseconds (0: at the group's next look). */
  add(delayMs: number, fire: () => void): LocalTimer {
    const timer = new LocalTimer(performance.now() + delayMs, fire);
    const heap = this.#heap;
    let i = heap.push(timer) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent].deadline <= timer.deadline) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = timer;
    return timer;
  }

  /** Milliseconds until the nearest live deadline (0 if one is due), or undefined if none. */
  nextDelay(): number | undefined {
    this.#dropCancelled();
    if (this.#heap.length === 0) return undefined;
    return Math.max(0, this.#heap[0].deadline - performance.now());
  }

  /** Fires every due timer, in deadline order; returns how many fired. */
  fireDue(): number {
    let fired = 0;
    const now = performance.now();
    for (;;) {
      this.#dropCancelled();
      const top = this.#heap[0];
      if (top === undefined || top.deadline > now) return fired;
      this.#pop();
      top.run();
      fired++;
    }
  }

  #dropCancelled(): void {
    while (this.#heap.length > 0 && this.#heap[0].cancelled) this.#pop();
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop() as LocalTimer;
    if (heap.length === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child =
        right < heap.length && heap[right].deadline < heap[left].deadline ? right : left;
      if (heap[child].deadline >= last.deadline) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = last;
  }
}
