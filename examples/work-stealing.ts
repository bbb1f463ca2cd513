/**
 * Work stealing with @weft/shm, by hand: the main thread owns a deque of jobs, two worker
 * threads steal from it, park on a ParkingLot when there is nothing to steal, and count what
 * they did in a PerThreadCounter. This is the skeleton the scheduler builds on.
 *
 *     node examples/work-stealing.ts
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { ParkingLot, PerThreadCounter, SharedLayout, WorkStealingDeque } from '@weft/shm';

const JOBS = 100_000;
const THIEVES = 2;

function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

if (isMainThread) {
  const layout = new SharedLayout();
  const dequeAt = layout.reserve(WorkStealingDeque.bytesFor(1024));
  const lotAt = layout.reserve(ParkingLot.bytesFor());
  const counterAt = layout.reserve(PerThreadCounter.bytesFor(THIEVES + 1, 2));
  const buffer = layout.allocate();
  const deque = WorkStealingDeque.create(buffer, dequeAt, 1024);
  const lot = ParkingLot.create(buffer, lotAt);
  const counter = PerThreadCounter.create(buffer, counterAt, { threads: THIEVES + 1, counters: 2 });

  const thieves = Array.from(
    { length: THIEVES },
    (_, i) =>
      new Worker(new URL(import.meta.url), {
        workerData: { buffer, dequeAt, lotAt, counterAt, row: i + 1 },
      }),
  );
  const runHere = (n: number | undefined) => {
    if (n === undefined) return;
    counter.add(0, fib(n), 1);
    counter.add(0);
  };
  for (let job = 0; job < JOBS; job++) {
    // When the deque is full, run the newest job ourselves instead of waiting: nothing blocks.
    while (!deque.push(job % 20)) runHere(deque.pop());
    if (job % 64 === 0) lot.signal(THIEVES);
  }
  for (let n = deque.pop(); n !== undefined; n = deque.pop()) runHere(n);
  lot.stop(); // thieves drain what is left and exit
  await Promise.all(thieves.map((t) => new Promise((resolve) => t.once('exit', resolve))));

  for (let row = 0; row <= THIEVES; row++) {
    console.log(`${row === 0 ? 'owner   ' : `thief ${row} `} ran ${counter.readThread(row)} jobs`);
  }
  console.log(`total ${counter.read()} jobs (expected ${JOBS}), checksum ${counter.read(1)}`);
} else {
  const { buffer, dequeAt, lotAt, counterAt, row } = workerData;
  const deque = WorkStealingDeque.attach(buffer, dequeAt);
  const lot = ParkingLot.attach(buffer, lotAt);
  const counter = PerThreadCounter.attach(buffer, counterAt);
  for (;;) {
    const seen = lot.state(); // read before scanning, so no signal is lost
    const n = deque.steal();
    if (n !== undefined) {
      counter.add(row, fib(n), 1);
      counter.add(row);
    } else if (lot.wait(seen) === 'stopped' && deque.size() === 0) {
      break;
    }
  }
  parentPort?.close();
}
