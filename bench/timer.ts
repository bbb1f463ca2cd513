/**
 * `pnpm bench timer`: weft's timer thread against Node's setTimeout / clearTimeout, in one run.
 *
 * Rows (the shapes of shared/research/BASELINES.md, section 3):
 * - steady state: 10,000 timers outstanding, each step cancels one and schedules another;
 * - 1,000,000 pending timers with random 1..30000 ms delays: schedule, cancel, and bytes per
 *   pending timer (weft: the shared table's bytes per slot plus the timer thread's heap bytes per
 *   entry; Node: JS heap growth per Timeout);
 * - 100,000 timers due over 0..100 ms, scheduled back to back: callback lateness and process CPU
 *   per fire, measured as BASELINES.md measures Node; and the lateness of the same timers fired
 *   into another thread's endpoint;
 * - two threads scheduling and cancelling at once: pairs per second with brpc's 13 hashed
 *   buckets and with one bucket per thread (the CPU probe is printed beside it);
 * - the timer thread's structure: its 4-ary heap against a hierarchical timing wheel, on the
 *   timer thread's work alone (insert, then fire as a clock advances), in one thread.
 */

import { once } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import { MpscQueue, ParkingLot, SharedLayout } from '@weft/shm';
import { TimerService } from '@weft/timers';
import { TimerHeap } from '../packages/timers/src/timer-heap.ts';
import { probeCpu } from './harness/cpu-probe.ts';
import { nsPerOp, summarize } from './harness/measure.ts';
import { byMode } from './harness/mode.ts';
import { Progress } from './harness/progress.ts';
import { publish, type Row } from './harness/report.ts';
import { runThreads } from './harness/threads.ts';
import { TimerWheel } from './structures/timer-wheel.ts';
import type { TimerPairsData } from './workers/timer-pairs.ts';
import type { TimerSinkData } from './workers/timer-sink.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const OUTSTANDING = 10_000;
const PAIRS = byMode(1_000_000, 5_000_000);
const PENDING = 1_000_000;
const FIRING = 100_000;
const THREAD_PAIRS = byMode(1_000_000, 4_000_000);
const TARGET = { endpoint: 0 }; // built-in endpoint 0: a plain wake-up, never observed here

const progress = new Progress('bench timer');
const noop = () => {};

/** A deterministic stream of delays in 1..30000 ms, the same for both contenders. */
function delays(count: number): Float64Array {
  const out = new Float64Array(count);
  let state = 0x9e3779b9;
  for (let i = 0; i < count; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = 1 + ((state >>> 0) % 30_000);
  }
  return out;
}

async function steadyState(): Promise<Row> {
  progress.update(`steady state, ${OUTSTANDING.toLocaleString('en-US')} outstanding`, true);
  const service = await TimerService.start({ capacity: 2 * OUTSTANDING });
  const client = service.client();
  const ids = new Float64Array(OUTSTANDING);
  for (let i = 0; i < OUTSTANDING; i++) ids[i] = client.schedule(30_000 + i, TARGET);
  const weft = nsPerOp(
    (n) => {
      let removed = 0;
      for (let i = 0; i < n; i++) {
        const at = i % OUTSTANDING;
        removed += client.unschedule(ids[at]) === 0 ? 1 : 0;
        ids[at] = client.schedule(30_000 + at, TARGET);
      }
      return removed;
    },
    PAIRS,
    byMode(5, 9),
  );
  await service.stop();
  const handles = new Array<ReturnType<typeof setTimeout>>(OUTSTANDING);
  for (let i = 0; i < OUTSTANDING; i++) handles[i] = setTimeout(noop, 30_000 + i);
  const node = nsPerOp(
    (n) => {
      for (let i = 0; i < n; i++) {
        const at = i % OUTSTANDING;
        clearTimeout(handles[at]);
        handles[at] = setTimeout(noop, 30_000 + at);
      }
      return n;
    },
    PAIRS,
    byMode(5, 9),
  );
  for (const handle of handles) clearTimeout(handle);
  return {
    name: `steady state, ${OUTSTANDING.toLocaleString('en-US')} outstanding: schedule + cancel pair`,
    value: weft.median,
    range: { min: weft.min, max: weft.max },
    unit: 'ns/pair',
    better: 'lower',
    goal: 60,
    peers: [{ name: 'setTimeout + clearTimeout', value: node.median }],
  };
}

async function million(): Promise<Row[]> {
  const delay = delays(PENDING);
  progress.update('1M pending timers: weft', true);
  const service = await TimerService.start({ capacity: PENDING });
  const client = service.client();
  const ids = new Float64Array(PENDING);
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  let start = performance.now();
  for (let i = 0; i < PENDING; i++) ids[i] = client.schedule(delay[i], TARGET);
  const weftSchedule = ((performance.now() - start) * 1e6) / PENDING;
  await new Promise((resolve) => setTimeout(resolve, 200)); // the timer thread drains the buckets
  gc();
  const weftHeapGrowth = process.memoryUsage().heapUsed - heapBefore;
  const stats = service.stats();
  const tableBytes = stats.tableBytes / PENDING; // the table is sized by capacity = PENDING
  const heapBytes = stats.heapBytes / stats.heapEntries;
  const fixedMiB = (stats.sharedBytes - stats.tableBytes) / 2 ** 20;
  start = performance.now();
  for (let i = 0; i < PENDING; i++) client.unschedule(ids[i]);
  const weftCancel = ((performance.now() - start) * 1e6) / PENDING;
  await service.stop();

  progress.update('1M pending timers: setTimeout', true);
  const handles = new Array<ReturnType<typeof setTimeout>>(PENDING);
  gc();
  const nodeHeapBefore = process.memoryUsage().heapUsed;
  start = performance.now();
  for (let i = 0; i < PENDING; i++) handles[i] = setTimeout(noop, delay[i]);
  const nodeSchedule = ((performance.now() - start) * 1e6) / PENDING;
  gc();
  const nodeBytes = (process.memoryUsage().heapUsed - nodeHeapBefore) / PENDING;
  start = performance.now();
  for (let i = 0; i < PENDING; i++) clearTimeout(handles[i]);
  const nodeCancel = ((performance.now() - start) * 1e6) / PENDING;

  return [
    {
      name: '1M pending (random 1..30000 ms): schedule',
      value: weftSchedule,
      unit: 'ns/timer',
      better: 'lower',
      goal: 100,
      peers: [{ name: 'setTimeout', value: nodeSchedule }],
    },
    {
      name: '1M pending: cancel',
      value: weftCancel,
      unit: 'ns/timer',
      better: 'lower',
      goal: 40,
      peers: [{ name: 'clearTimeout', value: nodeCancel }],
    },
    {
      name: '1M pending: bytes per timer',
      value: tableBytes + heapBytes,
      unit: 'bytes',
      better: 'lower',
      goal: 40,
      peers: [{ name: 'setTimeout (JS heap)', value: nodeBytes }],
      note:
        `timer table ${tableBytes.toFixed(1)} B per slot + timer thread heap ${heapBytes.toFixed(1)} B per entry ` +
        `(its arrays grow by doubling); fixed, whatever the count: ${fixedMiB.toFixed(1)} MiB of buckets and ` +
        `setTimer inboxes; this thread's JS heap grew ${(weftHeapGrowth / PENDING).toFixed(2)} B per timer`,
    },
  ];
}

/** One firing round's figures: callback lateness (ms) and CPU per fire (ns). */
interface Firing {
  p50: number;
  p99: number;
  /** p99 of the timers due after the scheduling burst ended. */
  p99AfterBurst: number;
  /** Process CPU, and this thread's, from the end of the burst to the last callback. */
  cpuPerFire: number;
  mainCpuPerFire: number;
}

const percentile = (sorted: Float64Array, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

/** A deterministic delay in 0..100 ms for timer `i` of the firing rows. */
function firingDelays(count = FIRING): Float64Array {
  const out = new Float64Array(count);
  let state = 12345;
  for (let i = 0; i < count; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    out[i] = (state % 10_000) / 100;
  }
  return out;
}

/**
 * Schedules FIRING callbacks due over 0..100 ms back to back on this thread (one round), the way
 * BASELINES.md measures Node: lateness is callback time minus (schedule time + the delay the
 * timer really has — `minDelay` is Node's 1 ms clamp), CPU counts from the end of the burst.
 */
async function firing(
  schedule: (delay: number, fn: () => void) => void,
  minDelay: number,
): Promise<Firing> {
  const delays = firingDelays();
  const late = new Float64Array(FIRING);
  const dueAt = new Float64Array(FIRING);
  let fired = 0;
  const done = Promise.withResolvers<void>();
  for (let i = 0; i < FIRING; i++) {
    const deadline = performance.now() + Math.max(minDelay, delays[i]);
    dueAt[i] = deadline;
    schedule(delays[i], () => {
      late[i] = performance.now() - deadline;
      if (++fired === FIRING) done.resolve();
    });
  }
  const burstEnd = performance.now();
  const cpuBefore = process.cpuUsage();
  const mainBefore = process.threadCpuUsage();
  await done.promise;
  const cpu = process.cpuUsage(cpuBefore);
  const mainCpu = process.threadCpuUsage(mainBefore);
  const afterBurst = late.filter((_, i) => dueAt[i] > burstEnd).sort();
  late.sort();
  return {
    p50: percentile(late, 0.5),
    p99: percentile(late, 0.99),
    p99AfterBurst: percentile(afterBurst, 0.99),
    cpuPerFire: ((cpu.user + cpu.system) * 1000) / FIRING,
    mainCpuPerFire: ((mainCpu.user + mainCpu.system) * 1000) / FIRING,
  };
}

/** `firing` in rounds, the first a warm-up (the JIT's); the median of each figure. */
async function firingRounds(
  schedule: (delay: number, fn: () => void) => void,
  minDelay: number,
): Promise<Firing> {
  const rounds: Firing[] = [];
  for (let round = 0; round < 1 + byMode(3, 7); round++) {
    const figures = await firing(schedule, minDelay);
    if (round > 0) rounds.push(figures);
  }
  const median = (key: keyof Firing) => summarize(rounds.map((r) => r[key])).median;
  return {
    p50: median('p50'),
    p99: median('p99'),
    p99AfterBurst: median('p99AfterBurst'),
    cpuPerFire: median('cpuPerFire'),
    mainCpuPerFire: median('mainCpuPerFire'),
  };
}

/**
 * Schedules `count` timers due over 0..100 ms from this thread with another thread's endpoint as
 * target (a parked scheduler group's case), in rounds on one warm service (a cold timer thread's
 * first fires wait for the JIT): the median over rounds of the p99 lateness of each token's
 * arrival there.
 */
async function firingToAnotherThread(count: number): Promise<number> {
  const service = await TimerService.start({ capacity: 2 * count });
  const client = service.client();
  const layout = new SharedLayout();
  const inboxCapacity = 2 ** Math.ceil(Math.log2(count)); // room for every token at once
  const inboxAt = layout.reserve(MpscQueue.bytesFor(inboxCapacity));
  const lotAt = layout.reserve(ParkingLot.bytesFor());
  const buffer = layout.allocate();
  MpscQueue.create(buffer, inboxAt, inboxCapacity);
  ParkingLot.create(buffer, lotAt);
  const endpoint = service.addEndpoint(buffer, inboxAt, lotAt);
  const deadlines = new Float64Array(new SharedArrayBuffer(8 * count));
  const data: TimerSinkData = { buffer, inboxAt, lotAt, deadlines };
  const sink = new Worker(new URL('./workers/timer-sink.ts', import.meta.url), {
    workerData: data,
  });
  await once(sink, 'message'); // 'ready'
  const delays = firingDelays(count);
  const p99s: number[] = [];
  for (let round = 0; round < 1 + byMode(3, 7); round++) {
    sink.postMessage(count);
    for (let token = 0; token < count; token++) {
      deadlines[token] = client.now() + delays[token];
      client.schedule({ at: deadlines[token] }, { endpoint, token });
    }
    // (Messages wait in the event loop: the result cannot slip by before this listens.)
    const [lateness] = (await once(sink, 'message')) as [Float64Array];
    if (round > 0) p99s.push(percentile(lateness.sort(), 0.99));
  }
  await sink.terminate();
  await service.stop();
  return summarize(p99s).median;
}

async function firingRows(): Promise<Row[]> {
  const label = `${FIRING.toLocaleString('en-US')} timers over 0..100 ms`;
  progress.update(`${label}: weft setTimer`, true);
  const service = await TimerService.start({ capacity: 2 * FIRING });
  const client = service.client();
  const weft = await firingRounds((delay, fn) => client.setTimer(fn, delay), 0);
  await service.stop();
  progress.update(`${label}: setTimeout`, true);
  const node = await firingRounds((delay, fn) => setTimeout(fn, delay), 1);
  progress.update(`${label}: fired to another thread`, true);
  const remote = await firingToAnotherThread(FIRING);
  const remoteLight = await firingToAnotherThread(FIRING / 10);
  const row = (name: string, weftValue: number, nodeValue: number, extra: Partial<Row> = {}) => ({
    name: `${label}: ${name}`,
    value: weftValue,
    unit: 'ms',
    better: 'lower' as const,
    peers: [{ name: 'setTimeout', value: nodeValue }],
    ...extra,
  });
  return [
    row('callback lateness p50', weft.p50, node.p50),
    row('callback lateness p99', weft.p99, node.p99, {
      note:
        'callbacks run on the thread that schedules them (setTimer, like setTimeout): those due ' +
        'during the 100,000-timer scheduling loop wait for it to end, in both; medians of warm rounds',
    }),
    row('callback lateness p99, due after the burst', weft.p99AfterBurst, node.p99AfterBurst),
    row('fired to another thread: lateness p99', remote, node.p99, {
      goal: 1,
      note:
        'timers scheduled from this thread, fired into an endpoint of a parked thread (a ' +
        "scheduler group's case: that thread is free when they fall due); median over warm " +
        "rounds; peer: setTimeout's p99 above",
    }),
    {
      ...row('', remoteLight, node.p99),
      name: `${(FIRING / 10).toLocaleString('en-US')} timers over 0..100 ms: fired to another thread: lateness p99`,
      note: 'the same at 100,000 fires/s rather than 1,000,000: the timer thread is not short of CPU',
    },
    {
      name: `${label}: process CPU per fire`,
      value: weft.cpuPerFire,
      unit: 'ns',
      better: 'lower',
      goal: 300,
      peers: [{ name: 'setTimeout', value: node.cpuPerFire }],
      note:
        `all threads (the timer thread, and V8's helpers in both), from the end of the burst to ` +
        `the last callback; this thread alone: weft ${weft.mainCpuPerFire.toFixed(0)} ns, ` +
        `setTimeout ${node.mainCpuPerFire.toFixed(0)} ns`,
    },
  ];
}

/** A timer thread structure as the structure rows drive it. */
interface Structure {
  push(deadline: number, id: number): void;
  /** Hands every timer due at `now` to `fire`, in deadline order. */
  fireUntil(now: number, fire: (deadline: number) => void): void;
}

function heapStructure(): Structure {
  const heap = new TimerHeap();
  return {
    push: (deadline, id) => heap.push(deadline, id),
    fireUntil(now, fire) {
      while (heap.size > 0 && heap.peekDeadline() <= now) fire(heap.pop());
    },
  };
}

function wheelStructure(now: number): Structure {
  const wheel = new TimerWheel(now);
  return {
    push: (deadline, id) => wheel.push(deadline, id),
    fireUntil(at, fire) {
      wheel.advance(at);
      for (let deadline = wheel.popDue(); !Number.isNaN(deadline); deadline = wheel.popDue()) {
        fire(deadline);
      }
    },
  };
}

/**
 * Inserts `count` timers spread over `spreadMs`, then fires them all, advancing a simulated
 * clock by `stepMs` (the timer thread's wake-ups); ns per timer for the whole. Checks that every
 * timer fires, in deadline order, never before its deadline.
 */
function driveStructure(
  make: (now: number) => Structure,
  count: number,
  spreadMs: number,
  stepMs: number,
): number {
  const start = 1_000_000;
  const deadlines = new Float64Array(count);
  let state = 99;
  for (let i = 0; i < count; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    deadlines[i] = start + 1 + (state / 2 ** 32) * spreadMs;
  }
  const began = performance.now();
  const structure = make(start);
  for (let i = 0; i < count; i++) structure.push(deadlines[i], 2 ** 32 + i);
  let fired = 0;
  let previous = 0;
  let faults = 0;
  for (let now = start; fired < count; now += stepMs) {
    structure.fireUntil(now, (deadline) => {
      if (deadline > now || deadline < previous) faults++;
      previous = deadline;
      fired++;
    });
  }
  const ns = ((performance.now() - began) * 1e6) / count;
  if (faults > 0) throw new Error(`a timer structure fired ${faults} timers early or out of order`);
  return ns;
}

function structureRows(): Row[] {
  const shapes = [
    { name: '1M over 30 s, woken every 1 ms', count: PENDING, spread: 30_000, step: 1 },
    { name: '100,000 over 100 ms, woken every 50 µs', count: FIRING, spread: 100, step: 0.05 },
  ];
  return shapes.map(({ name, count, spread, step }) => {
    progress.update(`timer thread structure: ${name}`, true);
    const heap: number[] = [];
    const wheel: number[] = [];
    for (let round = 0; round < byMode(3, 5); round++) {
      heap.push(driveStructure(heapStructure, count, spread, step));
      wheel.push(driveStructure(wheelStructure, count, spread, step));
    }
    return {
      name: `timer thread structure, ${name}: insert + fire`,
      value: summarize(heap).median,
      unit: 'ns/timer',
      better: 'lower' as const,
      peers: [{ name: 'hierarchical wheel', value: summarize(wheel).median }],
      note: "weft: the 4-ary heap the timer thread uses; the wheel is bench/structures/timer-wheel.ts (tokio's 6-bit levels, 1/16 ms ticks)",
    };
  });
}

async function twoThreads(): Promise<Row> {
  const script = new URL('./workers/timer-pairs.ts', import.meta.url);
  const rates = new Map<string, number>();
  for (const buckets of ['hashed', 'per-thread'] as const) {
    progress.update(`two threads scheduling and cancelling: ${buckets} buckets`, true);
    const service = await TimerService.start({ buckets, capacity: 4 * OUTSTANDING });
    const data: TimerPairsData = {
      handle: service.handle,
      pairs: THREAD_PAIRS,
      outstanding: OUTSTANDING,
    };
    const rounds = (
      await runThreads<number>(script, [data, data], { rounds: 1 + byMode(3, 5) })
    ).slice(1);
    rates.set(buckets, summarize(rounds.map((r) => (2 * THREAD_PAIRS) / (r.wallNs / 1e3))).median);
    await service.stop();
  }
  const perThread = rates.get('per-thread') as number;
  return {
    name: 'two threads scheduling and cancelling: one bucket per thread',
    value: perThread,
    unit: 'M pairs/s',
    better: 'higher',
    peers: [{ name: "13 hashed buckets (brpc's)", value: rates.get('hashed') as number }],
    note: `${THREAD_PAIRS.toLocaleString('en-US')} pairs per thread a round, ${OUTSTANDING.toLocaleString('en-US')} outstanding each`,
  };
}

progress.update('cpu probe', true);
const cpuProbe = await probeCpu();
const rows = [
  await steadyState(),
  ...(await million()),
  ...(await firingRows()),
  await twoThreads(),
  ...structureRows(),
];
progress.done();
publish({ name: 'timer', title: 'bench/timer: weft timer thread vs setTimeout', rows, cpuProbe });
