// Tasks shared by the scheduler tests: every body kind, every kind of value, fork-join.
import { threadId } from 'node:worker_threads';
import {
  join,
  schedulerData,
  self,
  sleep,
  spawn,
  type TaskId,
  task,
  yieldNow,
} from '@weft/scheduler';

export const add = task('add', (a: number, b: number) => a + b);

export const greet = task('greet', async (name: string) => {
  await new Promise((resolve) => setTimeout(resolve, 1));
  return `hello, ${name}`;
});

export const echo = task('echo', function* (value: unknown) {
  yield* yieldNow();
  return value;
});

export const echoAsync = task('echoAsync', async (...values: unknown[]) => values);

export const whoAmI = task('whoAmI', function* () {
  return { id: self(), threadId };
});

export const data = task('data', () => schedulerData());

export const fib = task('fib', function* (n: number): Generator<unknown, number> {
  if (n < 2) return n;
  const left: TaskId<number> = yield* spawn(fib, n - 1);
  const right: TaskId<number> = yield* spawn(fib, n - 2);
  return (yield* join(left)) + (yield* join(right));
});

export const fibAsync = task('fibAsync', async (n: number): Promise<number> => {
  if (n < 2) return n;
  const left = await spawn(fibAsync, n - 1);
  const right = await spawn(fibAsync, n - 2);
  return (await join(left)) + (await join(right));
});

/** Burns about `ms` of CPU and reports the thread it ran on. */
export const busy = task('busy', (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
  return threadId;
});

/** Spawns `count` busy tasks and joins them: returns the threads they ran on. */
export const fanOut = task('fanOut', function* (count: number, ms: number) {
  const ids: TaskId<number>[] = [];
  for (let i = 0; i < count; i++) ids.push(yield* spawn(busy, ms));
  const threads: number[] = [];
  for (const id of ids) threads.push(yield* join(id));
  return threads;
});

export const napper = task('napper', function* (ms: number) {
  const start = performance.now();
  yield* sleep(ms);
  return performance.now() - start;
});

// Fibers that reached their join of the gate. Module state is per thread: the tasks below must
// all run on one group (workers: 1 or 0).
let arrived = 0;

/** A gate that opens once `count` fibers are parked on it. */
export const gate = task('gate', function* (count: number) {
  while (arrived < count) yield* sleep(1);
  return 7;
});

export const waitAtGate = task('waitAtGate', function* (gateId: number) {
  arrived++; // in the same step as the join below parks this fiber
  return yield* join(gateId as TaskId<number>);
});

/** Parks `count` fibers on one gate task at once, then checks each got the gate's result. */
export const parkMany = task('parkMany', function* (count: number) {
  arrived = 0;
  const opening: TaskId<number> = yield* spawn(gate, count);
  const waiters: TaskId<number>[] = [];
  for (let i = 0; i < count; i++) waiters.push(yield* spawn(waitAtGate, opening));
  let sum = 0;
  for (const id of waiters) sum += yield* join(id);
  return sum;
});
