/**
 * The far end of the "fired to another thread" timer benchmark: a thread that owns an endpoint,
 * parks on its lot like a scheduler group, and notes how late each timer's token arrives.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { MpscQueue, ParkingLot } from '@weft/shm';
import { now } from '@weft/timers';

export interface TimerSinkData {
  buffer: SharedArrayBuffer;
  inboxAt: number;
  lotAt: number;
  /** Deadline of each token on the timer clock, written before the token is scheduled. */
  deadlines: Float64Array;
}

const { buffer, inboxAt, lotAt, deadlines } = workerData as TimerSinkData;
const inbox = MpscQueue.attach(buffer, inboxAt);
const lot = ParkingLot.attach(buffer, lotAt);
const lateness = new Float64Array(deadlines.length);
parentPort?.postMessage('ready');
let received = 0;
while (received < deadlines.length) {
  const seen = lot.state();
  let token = inbox.pop();
  if (token === undefined) {
    lot.wait(seen, 10_000);
    continue;
  }
  for (; token !== undefined; token = inbox.pop()) {
    lateness[received++] = now() - deadlines[token];
  }
}
parentPort?.postMessage(lateness);
