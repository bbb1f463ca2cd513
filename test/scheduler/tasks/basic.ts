// Tasks shared by the scheduler tests: every body kind, and a recursive fork-join.
import { join, spawn, type TaskId, task } from '@weft/scheduler';

export const add = task('add', (a: number, b: number) => a + b);

export const greet = task('greet', async (name: string) => {
  await new Promise((resolve) => setTimeout(resolve, 1));
  return `hello, ${name}`;
});

export const fib = task('fib', function* (n: number): Generator<unknown, number> {
  if (n < 2) return n;
  const left: TaskId<number> = yield* spawn(fib, n - 1);
  const right: TaskId<number> = yield* spawn(fib, n - 2);
  return (yield* join(left)) + (yield* join(right));
});
