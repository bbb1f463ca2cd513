/**
 * `pnpm bench steal`: weft's scheduler against the worker pools a Node user would pick today
 * (piscina, tinypool, workerpool), and against plain single-thread code, in one run.
 *
 * Rows:
 * - no-op tasks from the main thread, 1000 in flight, 2 workers: throughput;
 * - one task at a time, main → worker → main, warm workers: the round trip;
 * - spawn + join inside a fiber (pools cannot spawn from inside a task at all): the cost of a
 *   pair, beside what single-thread code pays for the same shape (effection, async functions, a
 *   minimal generator trampoline);
 * - fork-join fib(32), spawning at every n ≥ 12 (Cilk's form: spawn fib(n-1), compute fib(n-2),
 *   join): weft on 1 worker against plain recursion, weft
 *   on 2 workers against the CPU probe's speed-up, and the pools — which can only split from the
 *   main thread, so their figure is for that shape (the main thread splits, the leaves run in
 *   the pool);
 * - a skewed fan-out: one task spawns 100,000 tasks of uneven cost; per-group executed and
 *   stolen counts;
 * and an SVG of fib(32)'s speed-up against worker count (bench/results/steal-speedup.svg).
 */
import { Scheduler } from '@weft/scheduler';
import { action, spawn as effectionSpawn, run } from 'effection';
import { Piscina } from 'piscina';
import { Tinypool } from 'tinypool';
import workerpool from 'workerpool';
import { probeCpu } from './harness/cpu-probe.ts';
import { summarize, type Timing } from './harness/measure.ts';
import { byMode } from './harness/mode.ts';
import { Progress } from './harness/progress.ts';
import { publish, type Row } from './harness/report.ts';
import { writeChart } from './harness/svg-plot.ts';
import { fib } from './tasks/fib.ts';
import { fibFork, noop, skewed, spawnJoinLoop } from './tasks/steal.ts';

const TASKS = new URL('./tasks/steal.ts', import.meta.url);
const POOL_WORKER = new URL('./workers/pools/pool-worker.mjs', import.meta.url);
const WORKERPOOL_WORKER = new URL('./workers/pools/workerpool-worker.cjs', import.meta.url);

const IN_FLIGHT = 1000;
const WEFT_NOOPS = byMode(200_000, 1_000_000);
const POOL_NOOPS = byMode(20_000, 100_000);
const ROUND_TRIPS = byMode(2_000, 10_000);
const PAIRS = byMode(200_000, 1_000_000);
const FIB_N = 32;
const FIB_CUTOFF = 12;
const FIB_ROUNDS = byMode(3, 7);
const SKEWED = 100_000;
const MAX_PLOT_WORKERS = 4;

const progress = new Progress('bench steal');

/** Something the main thread hands tasks to: `call(i)` resolves with the no-op's result. */
interface Contender {
  name: string;
  call(i: number): Promise<unknown>;
}

/** A worker pool: also computes fib(n) in a worker, for the main-thread fork-join split. */
interface Pool extends Contender {
  fib(n: number): Promise<number>;
  close(): Promise<void>;
}

async function pools(): Promise<Pool[]> {
  const piscina = new Piscina({
    filename: POOL_WORKER.href,
    minThreads: 2,
    maxThreads: 2,
    idleTimeout: 60_000,
  });
  const tinypool = new Tinypool({
    filename: POOL_WORKER.href,
    minThreads: 2,
    maxThreads: 2,
    idleTimeout: 60_000,
  });
  const wp = workerpool.pool(WORKERPOOL_WORKER.pathname, {
    minWorkers: 2,
    maxWorkers: 2,
    workerType: 'thread',
  });
  return [
    {
      name: 'piscina',
      call: (i) => piscina.run(i, { name: 'noop' }),
      fib: (n) => piscina.run(n, { name: 'fib' }),
      close: () => piscina.destroy(),
    },
    {
      name: 'tinypool',
      call: (i) => tinypool.run(i, { name: 'noop' }),
      fib: (n) => tinypool.run(n, { name: 'fib' }),
      close: () => tinypool.destroy(),
    },
    {
      name: 'workerpool',
      call: (i) => wp.exec('noop', [i]),
      fib: (n) => wp.exec('fib', [n]),
      close: async () => void (await wp.terminate()),
    },
  ];
}

function weft(sched: Scheduler): Contender {
  return { name: 'weft', call: (i) => sched.run(noop, i) };
}

/** Runs `count` calls with at most IN_FLIGHT outstanding; returns calls per second. */
async function throughput(contender: Contender, count: number): Promise<number> {
  let next = 0;
  const start = performance.now();
  const lane = async () => {
    while (next < count) await contender.call(next++);
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  return count / ((performance.now() - start) / 1000);
}

/** Runs `count` calls one after another; returns the round trips in microseconds. */
async function roundTrips(
  contender: Contender,
  count: number,
): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < 200; i++) await contender.call(i); // warm
  const samples = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    await contender.call(i);
    samples[i] = Number(process.hrtime.bigint() - start) / 1000;
  }
  samples.sort();
  return { p50: samples[Math.floor(count / 2)], p99: samples[Math.floor(count * 0.99)] };
}

/** fib(n) split on the main thread down to the cutoff, leaves computed by the contender. */
function mainThreadFork(contender: Pool, n: number): Promise<number> {
  if (n < FIB_CUTOFF) return contender.fib(n);
  return Promise.all([mainThreadFork(contender, n - 1), mainThreadFork(contender, n - 2)]).then(
    ([a, b]) => a + b,
  );
}

async function timeMs(rounds: number, body: () => Promise<unknown> | unknown): Promise<Timing> {
  await body(); // warm
  const samples: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const start = performance.now();
    await body();
    samples.push(performance.now() - start);
  }
  return summarize(samples);
}

// ---- single-thread peers of spawn + join ------------------------------------------------------

async function effectionSpawnJoin(count: number): Promise<number> {
  const start = performance.now();
  await run(function* () {
    for (let i = 0; i < count; i++) {
      const child = yield* effectionSpawn(function* () {
        return yield* action<number>((resolve) => {
          resolve(i);
          return () => {};
        });
      });
      yield* child;
    }
  });
  return ((performance.now() - start) * 1e6) / count;
}

async function asyncSpawnJoin(count: number): Promise<number> {
  const childTask = async (x: number) => x;
  const start = performance.now();
  let sum = 0;
  for (let i = 0; i < count; i++) sum += await childTask(i);
  if (sum < 0) throw new Error('unreachable');
  return ((performance.now() - start) * 1e6) / count;
}

/** The smallest generator scheduler: a run queue, spawn, and join of a finished child. */
function trampolineSpawnJoin(count: number): number {
  type Fiber = { gen: Generator<unknown, number, unknown>; value?: number; done: boolean };
  const queue: Fiber[] = [];
  const spawnFiber = (gen: Generator<unknown, number, unknown>) => {
    const fiber: Fiber = { gen, done: false };
    queue.push(fiber);
    return fiber;
  };
  function* childBody(x: number): Generator<unknown, number, unknown> {
    return x;
  }
  function* parent(): Generator<unknown, number, unknown> {
    let sum = 0;
    for (let i = 0; i < count; i++) {
      const child = spawnFiber(childBody(i));
      while (!child.done) yield 'wait';
      sum += child.value as number;
    }
    return sum;
  }
  const start = performance.now();
  spawnFiber(parent());
  while (queue.length > 0) {
    const fiber = queue.shift() as Fiber;
    const step = fiber.gen.next();
    if (step.done) {
      fiber.done = true;
      fiber.value = step.value;
    } else queue.push(fiber);
  }
  return ((performance.now() - start) * 1e6) / count;
}

// ---- the rows ------------------------------------------------------------------------------------

async function mainThreadRows(sched: Scheduler, peers: Pool[]): Promise<Row[]> {
  const contenders = [weft(sched), ...peers];
  const rates = new Map<string, number>();
  const trips = new Map<string, { p50: number; p99: number }>();
  for (const contender of contenders) {
    progress.update(`${contender.name}: ${IN_FLIGHT} no-ops in flight`, true);
    rates.set(
      contender.name,
      await throughput(contender, contender.name === 'weft' ? WEFT_NOOPS : POOL_NOOPS),
    );
    progress.update(`${contender.name}: one at a time`, true);
    trips.set(contender.name, await roundTrips(contender, ROUND_TRIPS));
  }
  const peerFigures = (figure: (name: string) => number) =>
    peers.map((peer) => ({ name: peer.name, value: figure(peer.name) }));
  return [
    {
      name: `no-op tasks, main → 2 workers, ${IN_FLIGHT} in flight`,
      value: rates.get('weft') as number,
      unit: 'tasks/s',
      better: 'higher',
      goal: 1_000_000,
      peers: peerFigures((name) => rates.get(name) as number),
    },
    {
      name: 'one task at a time, main → worker → main, median',
      value: trips.get('weft')?.p50 as number,
      unit: 'µs',
      better: 'lower',
      goal: 5,
      peers: peerFigures((name) => trips.get(name)?.p50 as number),
    },
    {
      name: 'one task at a time, p99',
      value: trips.get('weft')?.p99 as number,
      unit: 'µs',
      better: 'lower',
      peers: peerFigures((name) => trips.get(name)?.p99 as number),
    },
  ];
}

async function spawnJoinRow(): Promise<Row> {
  progress.update('spawn + join inside a fiber', true);
  const sched = await Scheduler.start({ workers: 1, tasks: TASKS });
  await sched.run(spawnJoinLoop, PAIRS / 10);
  const weftNs = await timeMs(byMode(3, 7), () => sched.run(spawnJoinLoop, PAIRS));
  await sched.close();
  progress.update('spawn + join: single-thread peers', true);
  const effectionNs = await effectionSpawnJoin(byMode(5_000, 20_000));
  const asyncNs = await asyncSpawnJoin(PAIRS);
  trampolineSpawnJoin(PAIRS);
  const trampolineNs = trampolineSpawnJoin(PAIRS);
  return {
    name: 'spawn + join inside a fiber (1 worker)',
    value: (weftNs.median * 1e6) / PAIRS,
    range: { min: (weftNs.min * 1e6) / PAIRS, max: (weftNs.max * 1e6) / PAIRS },
    unit: 'ns/pair',
    better: 'lower',
    goal: 300,
    peers: [
      { name: 'effection spawn+join (1 thread)', value: effectionNs },
      { name: 'async call+await (1 thread)', value: asyncNs },
      { name: 'generator trampoline (1 thread)', value: trampolineNs },
    ],
    note: 'the pools cannot spawn a task from inside a task; the peers here run on one thread',
  };
}

async function forkJoinRows(peers: Pool[], probeSpeedup: number): Promise<Row[]> {
  progress.update(`fib(${FIB_N}) plain recursion`, true);
  const plain = await timeMs(FIB_ROUNDS, () => fib(FIB_N));
  const weftTimes = new Map<number, Timing>();
  for (let workers = 1; workers <= MAX_PLOT_WORKERS; workers++) {
    progress.update(`fib(${FIB_N}) fork-join on ${workers} workers`, true);
    const sched = await Scheduler.start({ workers, tasks: TASKS });
    weftTimes.set(workers, await timeMs(FIB_ROUNDS, () => sched.run(fibFork, FIB_N, FIB_CUTOFF)));
    await sched.close();
  }
  const poolTimes = new Map<string, Timing>();
  for (const peer of peers) {
    progress.update(`fib(${FIB_N}) split from the main thread, leaves in ${peer.name}`, true);
    poolTimes.set(peer.name, await timeMs(FIB_ROUNDS, () => mainThreadFork(peer, FIB_N)));
  }
  const one = weftTimes.get(1) as Timing;
  const two = weftTimes.get(2) as Timing;
  writeChart({
    file: 'steal-speedup.svg',
    title: `fib(${FIB_N}) fork-join, spawning at n ≥ ${FIB_CUTOFF}: speed-up over plain recursion`,
    xLabel: 'worker threads',
    yLabel: 'speed-up (×)',
    series: [
      {
        name: 'weft',
        color: '#1f77b4',
        points: [...weftTimes].map(([x, t]) => ({ x, y: plain.median / t.median })),
      },
      {
        name: 'ideal (1 per core)',
        color: '#999',
        dashed: true,
        points: [...weftTimes.keys()].map((x) => ({ x, y: Math.min(x, 2) })),
      },
      {
        name: 'CPU probe, 2 threads',
        color: '#d62728',
        dashed: true,
        points: [
          { x: 1, y: 1 },
          { x: 2, y: probeSpeedup },
        ],
      },
    ],
  });
  return [
    {
      name: `fib(${FIB_N}) fork-join, 1 worker, time over plain recursion`,
      value: one.median / plain.median,
      unit: '× plain',
      better: 'lower',
      goal: 1.2,
      note: `plain recursion ${plain.median.toFixed(1)} ms; weft on 1 worker ${one.median.toFixed(1)} ms`,
    },
    {
      name: `fib(${FIB_N}) fork-join, 2 workers, speed-up over plain`,
      value: plain.median / two.median,
      unit: '×',
      better: 'higher',
      goal: Number((0.9 * probeSpeedup).toFixed(2)),
      note:
        `goal: 0.9 × the CPU probe's ${probeSpeedup.toFixed(2)}× in this run; speed-up by workers: ` +
        [...weftTimes].map(([w, t]) => `${w}: ${(plain.median / t.median).toFixed(2)}×`).join(', '),
    },
    {
      name: `fib(${FIB_N}) fork-join time, 2 workers`,
      value: two.median,
      range: { min: two.min, max: two.max },
      unit: 'ms',
      better: 'lower',
      peers: peers.map((peer) => ({
        name: `${peer.name} (split on main)`,
        value: (poolTimes.get(peer.name) as Timing).median,
      })),
      note: 'the pools cannot spawn from inside a task: the main thread splits fib down to n < 12 and only the leaves run in the pool',
    },
  ];
}

async function skewedRow(): Promise<Row> {
  progress.update(`skewed: one task spawns ${SKEWED.toLocaleString('en-US')} uneven tasks`, true);
  const sched = await Scheduler.start({ workers: 2, tasks: TASKS });
  await sched.run(skewed, 1000);
  const before = sched.stats().groups;
  const start = performance.now();
  await sched.run(skewed, SKEWED);
  const ms = performance.now() - start;
  await new Promise((resolve) => setTimeout(resolve, 20)); // groups publish counts as they park
  const after = sched.stats().groups;
  await sched.close();
  const perGroup = after.map(
    (g, i) =>
      `group ${i}: ran ${g.tasksRun - before[i].tasksRun}, stole ${g.stolen - before[i].stolen}`,
  );
  return {
    name: `skewed fan-out of ${SKEWED.toLocaleString('en-US')} uneven tasks, 2 workers`,
    value: SKEWED / (ms / 1000),
    unit: 'tasks/s',
    better: 'higher',
    note: perGroup.join('; '),
  };
}

progress.update('cpu probe', true);
const cpuProbe = await probeCpu();
const peers = await pools();
const sched = await Scheduler.start({ workers: 2, tasks: TASKS });
const rows = [
  ...(await mainThreadRows(sched, peers)),
  await spawnJoinRow(),
  ...(await forkJoinRows(peers, cpuProbe.twoThreadSpeedup)),
  await skewedRow(),
];
await sched.close();
await Promise.all(peers.map((peer) => peer.close()));
progress.done();
publish({ name: 'steal', title: 'bench/steal: weft scheduler vs worker pools', rows, cpuProbe });
console.log('plot: bench/results/steal-speedup.svg');
