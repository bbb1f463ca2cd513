/**
 * A thread of the "two threads scheduling and cancelling" timer benchmark: `pairs` schedule +
 * unschedule pairs on a shared timer service, keeping `outstanding` timers pending.
 */
import { TimerClient, type TimerHandle } from '@weft/timers';
import { runRounds, threadData } from '../harness/threads.ts';

export interface TimerPairsData {
  handle: TimerHandle;
  pairs: number;
  outstanding: number;
}

const { handle, pairs, outstanding } = threadData<TimerPairsData>();
const client = TimerClient.attach(handle);
const target = { endpoint: 0 };
const ring = new Float64Array(outstanding);
for (let i = 0; i < outstanding; i++) ring[i] = client.schedule(30_000 + i, target);

runRounds(() => {
  let removed = 0;
  for (let i = 0; i < pairs; i++) {
    const at = i % outstanding;
    removed += client.unschedule(ring[at]) === 0 ? 1 : 0;
    ring[at] = client.schedule(30_000 + at, target);
  }
  return removed;
});
