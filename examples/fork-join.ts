/**
 * Fork-join on every core: Fibonacci, spawning at every level, with weft's scheduler.
 *
 *     node examples/fork-join.ts [n]
 *
 * This one file is both the task module (every worker imports it, as `tasks: import.meta.url`
 * says, and registers `fib`) and the program (which runs only on the main thread).
 */
import { isMainThread } from 'node:worker_threads';
import { join, Scheduler, spawn, type TaskId, task } from '@weft/scheduler';

function plainFib(n: number): number {
  return n < 2 ? n : plainFib(n - 1) + plainFib(n - 2);
}

/** fib(n): spawn fib(n-1) (an idle worker may steal it), compute fib(n-2) here, join. */
function* fibBody(n: number): Generator<unknown, number> {
  if (n < 20) return plainFib(n);
  const left: TaskId<number> = yield* spawn(fib, n - 1);
  const right = yield* fibBody(n - 2);
  return right + (yield* join(left));
}

export const fib = task('fib', fibBody);

if (isMainThread) {
  const n = Number(process.argv[2] ?? 34);
  await using scheduler = await Scheduler.start({ tasks: import.meta.url });
  const start = performance.now();
  const value = await scheduler.run(fib, n);
  const ms = performance.now() - start;
  console.log(`fib(${n}) = ${value} in ${ms.toFixed(1)} ms on ${scheduler.groups} workers`);
  await new Promise((resolve) => setTimeout(resolve, 20)); // groups publish counters as they park
  for (const [i, group] of scheduler.stats().groups.entries()) {
    console.log(`  worker ${i}: ran ${group.tasksRun} tasks, stole ${group.stolen}`);
  }
}
