// Uses setTimer on a worker thread: callbacks run here; reports how late each one was.
import { parentPort, workerData } from 'node:worker_threads';
import { TimerClient, type TimerHandle } from '@weft/timers';

const { handle, count } = workerData as { handle: TimerHandle; count: number };
const client = TimerClient.attach(handle);
const early: number[] = [];
let fired = 0;
for (let i = 0; i < count; i++) {
  const delay = (i % 20) + 1;
  const at = client.now() + delay;
  client.setTimer(() => {
    if (client.now() < at) early.push(at - client.now());
    if (++fired === count) parentPort!.postMessage({ fired, early });
  }, delay);
}
