// The consumer: drains the queue in batches, parking on the data lot when it is empty, and checks
// that each producer's values arrive complete, once each and in order.
import { parentPort, workerData } from 'node:worker_threads';
import { MpscQueue, ParkingLot } from '@weft/shm';

const { buffer, queueAt, dataLotAt, spaceLotAt, finishedAt, producers } = workerData;
const queue = MpscQueue.attach(buffer, queueAt);
const dataLot = ParkingLot.attach(buffer, dataLotAt);
const spaceLot = ParkingLot.attach(buffer, spaceLotAt);
const finished = new Int32Array(buffer, finishedAt, 1);

const expected = new Array<number>(producers).fill(0);
const errors: string[] = [];
const batch = new Int32Array(32);
let parks = 0;

function consume(count: number): void {
  for (let i = 0; i < count; i++) {
    const producer = batch[i] >>> 24;
    const sequence = batch[i] & 0xffffff;
    if (sequence !== expected[producer] && errors.length < 10) {
      errors.push(`producer ${producer}: got ${sequence}, expected ${expected[producer]}`);
    }
    expected[producer] = sequence + 1;
  }
  spaceLot.signal(producers);
}

for (;;) {
  const seen = dataLot.state();
  const count = queue.popBatch(batch);
  if (count > 0) {
    consume(count);
    continue;
  }
  if (Atomics.load(finished, 0) === producers) {
    // Every push completed before its producer counted itself finished: drain what is left.
    for (let n = queue.popBatch(batch); n > 0; n = queue.popBatch(batch)) consume(n);
    break;
  }
  parks++;
  dataLot.wait(seen);
}
parentPort!.postMessage({ expected, errors, parks });
