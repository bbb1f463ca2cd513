/**
 * A thread of the "steal under contention" benchmark: the deque's owner or one of its thieves.
 *
 * Each round moves the values 0 .. items-1 through one WorkStealingDeque. The owner pushes them
 * in batches (as far as there is room) and pops a few itself after each batch, newest first, as
 * a TaskGroup runs its own work; thieves steal from the other end, oldest first, until the owner
 * has pushed everything, drained the rest and marked the round done.
 *
 * Every thread counts each value it takes in its own `marks` array (one byte per value, written
 * by that thread alone), so the main thread can check that every value was taken exactly once.
 */
import { WorkStealingDeque } from '@weft/shm';
import { runRounds, threadData } from '../harness/threads.ts';

export interface DequeStealData {
  role: 'owner' | 'thief';
  buffer: SharedArrayBuffer;
  dequeOffset: number;
  /** Where the word the owner sets to the round number once the deque is drained for good. */
  doneOffset: number;
  /** Values pushed per round. */
  items: number;
  /** This thread's one-byte-per-value tally of what it took. */
  marks: SharedArrayBuffer;
}

/** The owner pushes up to this many values at a time... */
const PUSH_BATCH = 16;
/** ...then pops up to this many itself. */
const POP_BATCH = 4;

const data = threadData<DequeStealData>();
const deque = WorkStealingDeque.attach(data.buffer, data.dequeOffset);
const done = new Int32Array(data.buffer, data.doneOffset, 1);
const marks = new Uint8Array(data.marks);
const items = data.items;

function own(round: number): number {
  let next = 0;
  let popped = 0;
  while (next < items) {
    for (let i = 0; i < PUSH_BATCH && next < items && deque.push(next); i++) next++;
    for (let i = 0; i < POP_BATCH; i++) {
      const value = deque.pop();
      if (value === undefined) break;
      marks[value]++;
      popped++;
    }
  }
  for (let value = deque.pop(); value !== undefined; value = deque.pop()) {
    marks[value]++;
    popped++;
  }
  // Nothing is pushed after this, and the deque is empty: thieves may stop.
  Atomics.store(done, 0, round);
  return popped;
}

function steal(round: number): number {
  let stolen = 0;
  for (;;) {
    const value = deque.steal();
    if (value !== undefined) {
      marks[value]++;
      stolen++;
    } else if (Atomics.load(done, 0) === round) {
      return stolen;
    }
  }
}

runRounds(data.role === 'owner' ? own : steal);
