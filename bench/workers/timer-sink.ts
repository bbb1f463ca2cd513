/**
 * The far end of the "fired to another thread" timer benchmark: a thread that owns an endpoint,
 * parks on its lot like a scheduler group, and notes how late each timer's token arrives.
 *
 * For each round the main thread posts how many tokens to expect; this thread collects them
 * (tokens that came before the message wait in the inbox) and posts back each one's lateness.
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

function collect(count: number): Float64Array {
  const lateness = new Float64Array(count);
  let received = 0;
  while (received < count) {
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
  return lateness;
}

parentPort?.on('message', (count: number) => parentPort?.postMessage(collect(count)));
parentPort?.postMessage('ready');
