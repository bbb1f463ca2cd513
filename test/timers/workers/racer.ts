// Unschedules timers from another thread around the time they fire, and reports what each
// unschedule said.
import { parentPort, workerData } from 'node:worker_threads';
import { TimerClient, type TimerHandle } from '@weft/timers';

const { handle, ids, deadlines } = workerData as {
  handle: TimerHandle;
  ids: number[];
  deadlines: number[];
};
const client = TimerClient.attach(handle);
const results: number[] = [];
for (let i = 0; i < ids.length; i++) {
  // Unschedule somewhere from just before to just after the deadline: racing the firing.
  const at = deadlines[i] + ((i % 9) - 4) * 0.05;
  while (client.now() < at);
  results.push(client.unschedule(ids[i]));
}
parentPort!.postMessage(results);
