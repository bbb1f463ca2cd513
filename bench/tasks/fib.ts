/** Plain recursive Fibonacci: the CPU-bound work every contender computes. */
export function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}
