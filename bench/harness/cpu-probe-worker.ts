/**
 * The CPU probe's worker: warms fib up, then runs fib(27) as many times as it is told when the
 * probe's round starts.
 */
import { runRounds, threadData } from './threads.ts';

function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

const calls = threadData<number>();
for (let i = 0; i < 100; i++) fib(20);

runRounds(() => {
  let sum = 0;
  for (let i = 0; i < calls; i++) sum += fib(27);
  return sum;
});
