/**
 * The weft tasks of bench/steal.ts: a no-op, a spawn+join loop, fork-join Fibonacci and a skewed
 * fan-out. Every worker imports this module.
 */
import { join, spawn, type TaskId, task } from '@weft/scheduler';
import { fib } from './fib.ts';

/** Returns its argument: the cost of a task with nothing in it. */
export const noop = task('bench.noop', (x: number) => x);

const child = task('bench.child', function* (x: number) {
  return x;
});

/** Spawns and joins `count` no-op children one after another: the cost of a spawn+join pair. */
export const spawnJoinLoop = task('bench.spawnJoinLoop', function* (count: number) {
  let sum = 0;
  for (let i = 0; i < count; i++) sum += yield* join(yield* spawn(child, i));
  return sum;
});

/**
 * fib(n) as fork-join, the way Cilk writes it: at every level n ≥ cutoff, spawn fib(n-1) (which
 * an idle group may steal), compute fib(n-2) in this fiber, then join; below the cutoff, plain
 * recursion.
 */
function* fibBody(n: number, cutoff: number): Generator<unknown, number> {
  if (n < cutoff) return fib(n);
  const left: TaskId<number> = yield* spawn(fibFork, n - 1, cutoff);
  const right = yield* fibBody(n - 2, cutoff);
  return right + (yield* join(left));
}
export const fibFork = task('bench.fibFork', fibBody);

/** A task whose cost depends on i: most are cheap, one in 64 is a hundred times dearer. */
const uneven = task('bench.uneven', (i: number) => fib(i % 64 === 0 ? 22 : 12));

/** One task spawns `count` uneven tasks, then joins them all. */
export const skewed = task('bench.skewed', function* (count: number) {
  const ids: TaskId<number>[] = [];
  for (let i = 0; i < count; i++) ids.push(yield* spawn(uneven, i));
  let sum = 0;
  for (const id of ids) sum += yield* join(id);
  return sum;
});
