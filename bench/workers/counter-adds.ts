/**
 * A thread of the 2-thread counter benchmark: `adds` increments per round, either into this
 * thread's own row of a PerThreadCounter, or with Atomics.add on one Int32 word that every thread
 * shares (the contended alternative: its cache line moves between cores on every add).
 */
import { PerThreadCounter } from '@weft/shm';
import { runRounds, threadData } from '../harness/threads.ts';

export interface CounterAddsData {
  mode: 'own-rows' | 'shared-word';
  /** This thread's row in the counter. */
  thread: number;
  adds: number;
  buffer: SharedArrayBuffer;
  counterOffset: number;
  wordOffset: number;
}

const data = threadData<CounterAddsData>();
const counter = PerThreadCounter.attach(data.buffer, data.counterOffset);
const word = new Int32Array(data.buffer, data.wordOffset, 1);
const { thread, adds } = data;

function ownRow(): number {
  for (let i = 0; i < adds; i++) counter.add(thread);
  return adds;
}

function sharedWord(): number {
  for (let i = 0; i < adds; i++) Atomics.add(word, 0, 1);
  return adds;
}

runRounds(data.mode === 'own-rows' ? ownRow : sharedWord);
