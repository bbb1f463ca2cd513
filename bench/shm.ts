/**
 * `pnpm bench shm`: what the @weft/shm structures cost, next to what a Node user has instead.
 *
 * Single-thread rows time one operation in a loop (ns per operation, median of several rounds;
 * an operation is a pair: one push and one pop, or one alloc and one free) against plain Arrays
 * and denque doing the same pattern: those are the ceilings, since they need no atomics and
 * cannot be shared. Cross-thread rows run worker threads in timed rounds
 * (the first discarded as warm-up), report rates or round trips, and check their own results:
 * a lost, duplicated or reordered item fails the benchmark. The machine's CPU probe is printed
 * above the table, because the cross-thread rows depend on having two real cores.
 *
 * One function per group of rows; worker-side code is in bench/workers/. The timed loops for weft
 * and for each peer are written out one by one on purpose: a shared loop taking push/pop as
 * arguments would share one function's type feedback between them, make its calls megamorphic
 * and time the JIT's dispatch instead of the structures.
 */
import {
  MpscQueue,
  ParkingLot,
  PerThreadCounter,
  SharedLayout,
  SlotPool,
  WorkStealingDeque,
} from '@weft/shm';
import Denque from 'denque';
import { probeCpu } from './harness/cpu-probe.ts';
import { millionsPerSecond, nsPerOp, summarize, type Timing } from './harness/measure.ts';
import { byMode } from './harness/mode.ts';
import { Progress } from './harness/progress.ts';
import { publish, type Row } from './harness/report.ts';
import { runThreads } from './harness/threads.ts';
import type { CounterAddsData } from './workers/counter-adds.ts';
import type { DequeStealData } from './workers/deque-steal.ts';
import type { MpscProducersData } from './workers/mpsc-producers.ts';
import type { PingPongData } from './workers/ping-pong.ts';

/** Operations per timed round of a single-thread row (a multiple of BATCH). */
const ITERATIONS = byMode(1_000_000, 5_000_000);
/** Timed rounds per single-thread row, after two warm-up rounds. */
const ROUNDS = byMode(5, 11);
/** Timed rounds per cross-thread row, after one warm-up round. */
const THREAD_ROUNDS = byMode(3, 7);
/** Items pushed, then popped, in a row of the batched patterns. */
const BATCH = 16;
/** Capacity of the deques and queues: a TaskGroup's order of magnitude. */
const CAPACITY = 1024;

const progress = new Progress('bench shm');

function time(step: string, body: (iterations: number) => number): Timing {
  progress.update(step, true);
  return nsPerOp(body, ITERATIONS, ROUNDS);
}

/** A "lower is better" row from single-thread timings, weft's first, then its peers'. */
function costRow(name: string, weft: Timing, peers: [string, Timing][], goal?: number): Row {
  return {
    name,
    value: weft.median,
    range: { min: weft.min, max: weft.max },
    unit: 'ns/op',
    better: 'lower',
    goal,
    peers: peers.map(([peer, timing]) => ({ name: peer, value: timing.median })),
  };
}

/** Runs a cross-thread benchmark and returns its timed rounds (the warm-up one dropped). */
async function timedRounds<R>(step: string, worker: string, data: readonly unknown[]) {
  progress.update(step, true);
  const script = new URL(`./workers/${worker}`, import.meta.url);
  const rounds = await runThreads<R>(script, data, { rounds: 1 + THREAD_ROUNDS });
  return rounds.slice(1);
}

function workStealingDequeOwner(): Row[] {
  const deque = WorkStealingDeque.create(
    new SharedArrayBuffer(WorkStealingDeque.bytesFor(CAPACITY)),
    0,
    CAPACITY,
  );
  const array: number[] = [];
  const denque = new Denque<number>();

  const batched = (what: string) => `deque: ${what} push ×${BATCH} then pop ×${BATCH}`;
  const weftBatch = time(batched('WorkStealingDeque'), (n) => {
    let sum = 0;
    for (let op = 0; op < n; op += BATCH) {
      for (let i = 0; i < BATCH; i++) deque.push(i);
      for (let i = 0; i < BATCH; i++) sum += deque.pop()!;
    }
    return sum;
  });
  const arrayBatch = time(batched('Array'), (n) => {
    let sum = 0;
    for (let op = 0; op < n; op += BATCH) {
      for (let i = 0; i < BATCH; i++) array.push(i);
      for (let i = 0; i < BATCH; i++) sum += array.pop()!;
    }
    return sum;
  });
  const denqueBatch = time(batched('denque'), (n) => {
    let sum = 0;
    for (let op = 0; op < n; op += BATCH) {
      for (let i = 0; i < BATCH; i++) denque.push(i);
      for (let i = 0; i < BATCH; i++) sum += denque.pop()!;
    }
    return sum;
  });

  const single = (what: string) => `deque: ${what} push then pop`;
  const weftSingle = time(single('WorkStealingDeque'), (n) => {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      deque.push(i);
      sum += deque.pop()!;
    }
    return sum;
  });
  const arraySingle = time(single('Array'), (n) => {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      array.push(i);
      sum += array.pop()!;
    }
    return sum;
  });
  const denqueSingle = time(single('denque'), (n) => {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      denque.push(i);
      sum += denque.pop()!;
    }
    return sum;
  });

  return [
    costRow(
      `WorkStealingDeque push+pop, ×${BATCH} batches (owner)`,
      weftBatch,
      [
        ['Array push+pop', arrayBatch],
        ['denque push+pop', denqueBatch],
      ],
      15,
    ),
    costRow(
      'WorkStealingDeque push then pop (owner)',
      weftSingle,
      [
        ['Array push+pop', arraySingle],
        ['denque push+pop', denqueSingle],
      ],
      15,
    ),
  ];
}

async function workStealingDequeSteal(thieves: number): Promise<Row> {
  const items = byMode(2_000_000, 10_000_000);
  const layout = new SharedLayout();
  const dequeOffset = layout.reserve(WorkStealingDeque.bytesFor(CAPACITY));
  const doneOffset = layout.reserve(4);
  const buffer = layout.allocate();
  WorkStealingDeque.create(buffer, dequeOffset, CAPACITY);
  const roles: DequeStealData['role'][] = ['owner', ...new Array(thieves).fill('thief')];
  const crew = `1 owner + ${thieves} ${thieves === 1 ? 'thief' : 'thieves'}`;
  const marks = roles.map(() => new SharedArrayBuffer(items));
  const data: DequeStealData[] = roles.map((role, i) => {
    return { role, buffer, dequeOffset, doneOffset, items, marks: marks[i] };
  });

  const rounds = await timedRounds<number>(`deque: ${crew}`, 'deque-steal.ts', data);

  // Every round, the warm-up one included, moves each value through the deque once.
  for (const round of rounds) {
    const taken = round.results.reduce((sum, count) => sum + count, 0);
    if (taken !== items) throw new Error(`steal: ${taken} values taken in a round, not ${items}`);
  }
  const expected = 1 + rounds.length;
  const tallies = marks.map((tally) => new Uint8Array(tally));
  for (let value = 0; value < items; value++) {
    let times = 0;
    for (const tally of tallies) times += tally[value];
    if (times !== expected) {
      throw new Error(`steal: value ${value} was taken ${times} times over ${expected} rounds`);
    }
  }

  const rates = summarize(rounds.map((round) => millionsPerSecond(items, round.wallNs)));
  const share = (thread: number) =>
    summarize(rounds.map((round) => round.results[thread] / items)).median;
  const stolen = roles.slice(1).map((_, i) => `${(100 * share(1 + i)).toFixed(0)} %`);
  return {
    name: `WorkStealingDeque steal: ${crew}`,
    value: rates.median,
    range: { min: rates.min, max: rates.max },
    unit: 'M items/s',
    better: 'higher',
    goal: 20,
    note:
      `${items.toLocaleString('en-US')} items a round; owner popped ${(100 * share(0)).toFixed(0)} %, ` +
      `stolen ${stolen.join(' + ')}; every item taken exactly once (checked)`,
  };
}

function mpscQueueSingleThread(): Row[] {
  const queue = MpscQueue.create(new SharedArrayBuffer(MpscQueue.bytesFor(CAPACITY)), 0, CAPACITY);
  const into = new Int32Array(BATCH);
  const array: number[] = [];
  const denque = new Denque<number>();

  const batched = (what: string) => `mpsc: ${what} ×${BATCH}`;
  const weftPop = time(batched('MpscQueue tryPush then pop'), (n) => {
    let sum = 0;
    for (let op = 0; op < n; op += BATCH) {
      for (let i = 0; i < BATCH; i++) queue.tryPush(i);
      for (let i = 0; i < BATCH; i++) sum += queue.pop()!;
    }
    return sum;
  });
  const weftPopBatch = time(batched('MpscQueue tryPush then popBatch'), (n) => {
    let sum = 0;
    for (let op = 0; op < n; op += BATCH) {
      for (let i = 0; i < BATCH; i++) queue.tryPush(i);
      sum += queue.popBatch(into);
    }
    return sum;
  });
  const arrayShift = time(batched('Array push then shift'), (n) => {
    let sum = 0;
    for (let op = 0; op < n; op += BATCH) {
      for (let i = 0; i < BATCH; i++) array.push(i);
      for (let i = 0; i < BATCH; i++) sum += array.shift()!;
    }
    return sum;
  });
  const denqueShift = time(batched('denque push then shift'), (n) => {
    let sum = 0;
    for (let op = 0; op < n; op += BATCH) {
      for (let i = 0; i < BATCH; i++) denque.push(i);
      for (let i = 0; i < BATCH; i++) sum += denque.shift()!;
    }
    return sum;
  });

  const peers: [string, Timing][] = [
    ['Array push+shift', arrayShift],
    ['denque push+shift', denqueShift],
  ];
  return [
    costRow(`MpscQueue tryPush+pop, ×${BATCH} batches`, weftPop, peers),
    costRow(`MpscQueue tryPush ×${BATCH} + popBatch`, weftPopBatch, peers),
  ];
}

async function mpscQueueTwoProducers(): Promise<Row> {
  const producers = 2;
  const perProducer = byMode(1_000_000, 5_000_000);
  const buffer = new SharedArrayBuffer(MpscQueue.bytesFor(CAPACITY));
  MpscQueue.create(buffer, 0, CAPACITY);
  const roles: MpscProducersData['role'][] = [...Array(producers).keys(), 'consumer'];
  const data: MpscProducersData[] = roles.map((role) => {
    return { role, producers, perProducer, buffer, queueOffset: 0 };
  });

  const rounds = await timedRounds<number>(
    'mpsc: 2 producers → 1 consumer',
    'mpsc-producers.ts',
    data,
  );

  const items = producers * perProducer;
  const rates = summarize(rounds.map((round) => millionsPerSecond(items, round.wallNs)));
  const median = (thread: number) => summarize(rounds.map((r) => r.results[thread])).median;
  const retries = Math.round(median(0) + median(1));
  return {
    name: `MpscQueue ${producers} producers → 1 consumer (popBatch)`,
    value: rates.median,
    range: { min: rates.min, max: rates.max },
    unit: 'M items/s',
    better: 'higher',
    note:
      `${items.toLocaleString('en-US')} items a round; producers retried on a full queue ` +
      `${retries.toLocaleString('en-US')} times, the consumer found it empty ` +
      `${Math.round(median(producers)).toLocaleString('en-US')} times (medians); ` +
      'each producer’s items arrived once and in order (checked)',
  };
}

function slotPool(): Row[] {
  const capacity = 4096;
  const pool = (chunk?: number) =>
    SlotPool.create(new SharedArrayBuffer(SlotPool.bytesFor(capacity)), 0, capacity, { chunk });
  const ids = new Float64Array(BATCH);

  const allocFree = (what: string, slots: SlotPool) =>
    time(`slot pool: ${what} alloc ×${BATCH} then free ×${BATCH}`, (n) => {
      let sum = 0;
      for (let op = 0; op < n; op += BATCH) {
        for (let i = 0; i < BATCH; i++) ids[i] = slots.alloc();
        for (let i = 0; i < BATCH; i++) {
          if (!slots.free(ids[i])) throw new Error(`slot pool: free(${ids[i]}) failed`);
        }
        sum += ids[0];
      }
      return sum;
    });
  const cached = pool();
  const weftCached = allocFree(`SlotPool (chunk ${cached.chunk})`, cached);
  const weftUncached = allocFree('SlotPool (chunk 1)', pool(1));

  const freeList = Array.from({ length: capacity }, (_, slot) => slot);
  const arrayFreeList = time(
    `slot pool: Array free list pop ×${BATCH} then push ×${BATCH}`,
    (n) => {
      let sum = 0;
      for (let op = 0; op < n; op += BATCH) {
        for (let i = 0; i < BATCH; i++) ids[i] = freeList.pop()!;
        for (let i = 0; i < BATCH; i++) freeList.push(ids[i]);
        sum += ids[0];
      }
      return sum;
    },
  );

  const peer: [string, Timing][] = [['Array free list pop+push', arrayFreeList]];
  return [
    costRow(`SlotPool alloc+free, ×${BATCH} (chunk ${cached.chunk}, cached)`, weftCached, peer, 30),
    {
      ...costRow(`SlotPool alloc+free, ×${BATCH} (chunk 1)`, weftUncached, peer),
      note:
        `a thread caches 2 slots, so ${2 * (BATCH - 2)} of the ${2 * BATCH} allocs and frees ` +
        'of a batch go to the shared lock-free stack (a BigInt CAS each)',
    },
  ];
}

function perThreadCounterSingleThread(): Row {
  const counter = PerThreadCounter.create(new SharedArrayBuffer(PerThreadCounter.bytesFor(1)), 0, {
    threads: 1,
  });
  const word = new Int32Array(new SharedArrayBuffer(4));

  const weft = time('counter: PerThreadCounter add', (n) => {
    for (let i = 0; i < n; i++) counter.add(0);
    return n;
  });
  const atomicsAdd = time('counter: Atomics.add on an Int32 word', (n) => {
    for (let i = 0; i < n; i++) Atomics.add(word, 0, 1);
    return n;
  });
  return costRow('PerThreadCounter add, 1 thread', weft, [['Atomics.add Int32', atomicsAdd]]);
}

async function perThreadCounterTwoThreads(): Promise<Row> {
  const threads = 2;
  const adds = byMode(2_000_000, 10_000_000);
  const layout = new SharedLayout();
  const counterOffset = layout.reserve(PerThreadCounter.bytesFor(threads));
  const wordOffset = layout.reserve(4);
  const buffer = layout.allocate();
  const counter = PerThreadCounter.create(buffer, counterOffset, { threads });
  const word = new Int32Array(buffer, wordOffset, 1);
  const run = (mode: CounterAddsData['mode']) => {
    const data: CounterAddsData[] = [...Array(threads).keys()].map((thread) => {
      return { mode, thread, adds, buffer, counterOffset, wordOffset };
    });
    return timedRounds<number>(`counter: 2 threads, ${mode}`, 'counter-adds.ts', data);
  };

  const ownRows = await run('own-rows');
  const sharedWord = await run('shared-word');

  const expected = (1 + THREAD_ROUNDS) * threads * adds;
  if (counter.read() !== expected || Atomics.load(word, 0) !== expected) {
    throw new Error(
      `counter: counted ${counter.read()} and ${Atomics.load(word, 0)}, expected ${expected}`,
    );
  }
  const rates = (rounds: typeof ownRows) =>
    summarize(rounds.map((round) => millionsPerSecond(threads * adds, round.wallNs)));
  const weft = rates(ownRows);
  return {
    name: 'PerThreadCounter add, 2 threads, own rows',
    value: weft.median,
    range: { min: weft.min, max: weft.max },
    unit: 'M adds/s',
    better: 'higher',
    peers: [{ name: 'Atomics.add, 1 shared word', value: rates(sharedWord).median }],
    note: `${adds.toLocaleString('en-US')} adds per thread a round; totals checked`,
  };
}

function parkingLotSignal(): Row {
  const lot = ParkingLot.create(new SharedArrayBuffer(ParkingLot.bytesFor()), 0);
  const word = new Int32Array(new SharedArrayBuffer(4));

  const weft = time('parking lot: signal, no waiter', (n) => {
    for (let i = 0; i < n; i++) lot.signal();
    return lot.state();
  });
  const addNotify = time('parking lot: Atomics.add + notify, no waiter', (n) => {
    for (let i = 0; i < n; i++) {
      Atomics.add(word, 0, 2);
      Atomics.notify(word, 0, 1);
    }
    return word[0];
  });
  return {
    ...costRow('ParkingLot signal, no waiter', weft, [['Atomics.add+notify', addNotify]]),
    note: 'the lot counts its sleepers and skips Atomics.notify when there are none',
  };
}

async function parkingLotPingPong(): Promise<Row[]> {
  const layout = new SharedLayout();
  const lots: [number, number] = [
    layout.reserve(ParkingLot.bytesFor()),
    layout.reserve(ParkingLot.bytesFor()),
  ];
  const words: [number, number] = [layout.reserve(4), layout.reserve(4)];
  const buffer = layout.allocate();
  for (const offset of lots) ParkingLot.create(buffer, offset);
  const run = async (mode: PingPongData['mode'], trips: number) => {
    const offsets = mode === 'atomics' ? words : lots;
    const data: PingPongData[] = [0, 1].map((side) => {
      return { mode, side: side as 0 | 1, trips, buffer, offsets };
    });
    const rounds = await timedRounds<number>(
      `parking lot: ping-pong, ${mode}`,
      'ping-pong.ts',
      data,
    );
    return summarize(rounds.map((round) => round.wallNs / trips / 1000));
  };

  const lot = await run('lot', byMode(2_000, 10_000));
  const atomics = await run('atomics', byMode(2_000, 10_000));
  const spin = await run('spin-then-lot', byMode(20_000, 100_000));
  const wakeUp = (lot.median - spin.median) / 2;
  const row = (name: string, timing: Timing): Row => ({
    name,
    value: timing.median,
    range: { min: timing.min, max: timing.max },
    unit: 'µs/round trip',
    better: 'lower',
  });
  return [
    {
      ...row('ParkingLot ping-pong, wait/signal', lot),
      peers: [{ name: 'Atomics.wait/notify', value: atomics.median }],
      note: `2 futex wake-ups per round trip: each hand-off costs ≈ ${wakeUp.toFixed(1)} µs more than a spinning one`,
    },
    {
      ...row('ParkingLot ping-pong, spin ≤ 2000 polls first', spin),
      note: 'the waiter polls state() before it sleeps; with a free second core no hand-off sleeps',
    },
  ];
}

progress.update('cpu probe', true);
const cpuProbe = await probeCpu();
const rows = [
  ...workStealingDequeOwner(),
  // One thief: two busy threads, as many as this machine's cores. Two: one thread more than that.
  await workStealingDequeSteal(1),
  await workStealingDequeSteal(2),
  ...mpscQueueSingleThread(),
  await mpscQueueTwoProducers(),
  ...slotPool(),
  perThreadCounterSingleThread(),
  await perThreadCounterTwoThreads(),
  parkingLotSignal(),
  ...(await parkingLotPingPong()),
];
progress.done();
publish({ name: 'shm', title: 'bench/shm: @weft/shm structures', rows, cpuProbe });
