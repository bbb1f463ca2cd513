/**
 * ButexTable: the butexes behind Mutex, CondVar and CountdownEvent, waited on by fibers and by
 * threads (brpc's butex, both halves).
 *
 * Each butex is an int32 value in shared memory. A *thread* waits on it the futex way
 * (`Atomics.wait`/`waitAsync`, with a count of sleepers, see @weft/shm's Futex). A *fiber* cannot
 * sleep in Atomics.wait, so its group keeps it in a local FIFO for that butex and sets the group's
 * bit in the butex's waiter mask. A waker changes the value first, then reads the mask and:
 *
 * - wake one: tells one group with its bit set (a BUTEX_ONE notice, or directly when that group is
 *   the caller's); a group that finds no waiter left (it timed out, or was cancelled) clears its
 *   bit and passes the wake on, so a wake is never swallowed. With no group bit set, it wakes one
 *   sleeping thread.
 * - wake all: tells every group with its bit set, and wakes every sleeping thread.
 *
 * The waiter sets its bit, then checks the value; the waker changes the value, then reads the
 * mask: with sequentially consistent Atomics one of them sees the other, so no wake-up is lost.
 * A group clears its own bit only when its local FIFO is empty, and only its own thread touches
 * that FIFO, so a bit is never cleared under a waiter.
 */
import { alignToLine, Futex, SlotPool } from '@weft/shm';
import { Notice, notice } from './notices.ts';

/** Where a butex wake reaches the group on the waker's own thread without a notice. */
export interface LocalButexWaker {
  readonly index: number;
  /** Wakes one (or all) of this group's fibers waiting on butex `slot`; false if it had none. */
  wakeButex(slot: number, all: boolean): boolean;
}

const VALUE = 0;
const THREAD_WAITERS = 1;

export class ButexTable {
  readonly pool: SlotPool;
  readonly capacity: number;
  readonly #words: Int32Array;
  readonly #masks: Int32Array;
  readonly #maskWords: number;
  readonly #post: (endpoint: number, message: number) => void;

  /** Bytes for `capacity` butexes with waiter masks for `endpoints` endpoints. */
  static bytesFor(capacity: number, endpoints: number): number {
    return (
      alignToLine(SlotPool.bytesFor(capacity)) +
      alignToLine(capacity * 8) +
      alignToLine(capacity * 4 * Math.ceil(endpoints / 32))
    );
  }

  /** Creates an empty table (its SlotPool; the words of a fresh buffer start zeroed). */
  static create(buffer: SharedArrayBuffer, byteOffset: number, capacity: number): void {
    SlotPool.create(buffer, byteOffset, capacity);
  }

  /** Attaches to the table; `post` delivers a notice to an endpoint and wakes it. */
  constructor(
    buffer: SharedArrayBuffer,
    byteOffset: number,
    endpoints: number,
    post: (endpoint: number, message: number) => void,
  ) {
    this.pool = SlotPool.attach(buffer, byteOffset);
    this.capacity = this.pool.capacity;
    this.#maskWords = Math.ceil(endpoints / 32);
    this.#post = post;
    let at = byteOffset + alignToLine(SlotPool.bytesFor(this.capacity));
    this.#words = new Int32Array(buffer, at, this.capacity * 2);
    at += alignToLine(this.capacity * 8);
    this.#masks = new Int32Array(buffer, at, this.capacity * this.#maskWords);
  }

  /** Allocates a butex holding `value`; -1 when the table is full. */
  alloc(value: number): number {
    const id = this.pool.alloc();
    if (id === -1) return -1;
    const slot = id >>> 0;
    for (let word = 0; word < this.#maskWords; word++)
      this.#masks[slot * this.#maskWords + word] = 0;
    Atomics.store(this.#words, 2 * slot + THREAD_WAITERS, 0);
    Atomics.store(this.#words, 2 * slot + VALUE, value);
    return id;
  }

  /** The words of butex `slot`: value at index `2 * slot`. */
  get words(): Int32Array {
    return this.#words;
  }

  /** A Futex over butex `slot`'s value, for threads. */
  futex(slot: number): Futex {
    return new Futex(this.#words, 2 * slot + VALUE, 2 * slot + THREAD_WAITERS);
  }

  /** Sets `endpoint`'s bit: it has fibers waiting on butex `slot`. */
  addWaiter(slot: number, endpoint: number): void {
    Atomics.or(this.#masks, slot * this.#maskWords + (endpoint >>> 5), 1 << (endpoint & 31));
  }

  /** Clears `endpoint`'s bit (its last fiber stopped waiting on butex `slot`). */
  removeWaiter(slot: number, endpoint: number): void {
    Atomics.and(this.#masks, slot * this.#maskWords + (endpoint >>> 5), ~(1 << (endpoint & 31)));
  }

  /**
   * Wakes one waiter (or all) of butex `slot`, whose value the caller has already changed.
   * `local` is the caller's own group, if it has one, reached directly.
   */
  wake(slot: number, all: boolean, local: LocalButexWaker | undefined): void {
    const base = slot * this.#maskWords;
    for (let word = 0; word < this.#maskWords; word++) {
      let mask = Atomics.load(this.#masks, base + word);
      while (mask !== 0) {
        const bit = 31 - Math.clz32(mask);
        mask &= ~(1 << bit);
        const endpoint = word * 32 + bit;
        if (endpoint === local?.index) {
          if (local.wakeButex(slot, all)) {
            if (!all) return;
          } else {
            this.removeWaiter(slot, endpoint);
          }
        } else {
          this.#post(endpoint, notice(slot, all ? Notice.BUTEX_ALL : Notice.BUTEX_ONE));
          if (!all) return;
        }
      }
    }
    this.futex(slot).wake(all ? Number.POSITIVE_INFINITY : 1);
  }
}
