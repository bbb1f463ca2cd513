// One side of a ping-pong over two ParkingLots: wait for our turn, hand the turn over, signal the
// other side. A lost wake-up leaves both sides asleep, and the test's deadline fails the run.
import { parentPort, workerData } from 'node:worker_threads';
import { ParkingLot } from '@weft/shm';

const { buffer, lotsAt, turnAt, me, rounds, useAsync } = workerData;
const lots = [ParkingLot.attach(buffer, lotsAt[0]), ParkingLot.attach(buffer, lotsAt[1])];
const turn = new Int32Array(buffer, turnAt, 1);
const other = 1 - me;

let sleeps = 0;
for (let round = 0; round < rounds; round++) {
  for (;;) {
    const seen = lots[me].state();
    if (Atomics.load(turn, 0) === me) break;
    sleeps++;
    if (useAsync) await lots[me].waitAsync(seen);
    else lots[me].wait(seen);
  }
  Atomics.store(turn, 0, other);
  lots[other].signal();
}
parentPort!.postMessage({ sleeps });
