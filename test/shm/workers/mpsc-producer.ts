// A producer: pushes `items` values tagged with its id and a sequence number, signalling the
// consumer's lot after each push, and parking on the `space` lot while the queue is full.
import { parentPort, workerData } from 'node:worker_threads';
import { MpscQueue, ParkingLot } from '@weft/shm';

const { buffer, queueAt, dataLotAt, spaceLotAt, finishedAt, producer, items } = workerData;
const queue = MpscQueue.attach(buffer, queueAt);
const dataLot = ParkingLot.attach(buffer, dataLotAt);
const spaceLot = ParkingLot.attach(buffer, spaceLotAt);
const finished = new Int32Array(buffer, finishedAt, 1);

let fullWaits = 0;
for (let sequence = 0; sequence < items; sequence++) {
  const value = (producer << 24) | sequence;
  for (;;) {
    const seen = spaceLot.state();
    if (queue.tryPush(value)) break;
    fullWaits++;
    spaceLot.wait(seen);
  }
  dataLot.signal();
}
Atomics.add(finished, 0, 1);
dataLot.signal();
parentPort!.postMessage({ fullWaits });
