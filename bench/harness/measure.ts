/**
 * Timing a single-thread operation in nanoseconds per operation (and turning counts into rates).
 *
 * One timed call runs the operation many times in a loop written inside `body`, so the loop and
 * the clock read cost almost nothing per operation and the JIT compiles the loop as the caller
 * wrote it. The first rounds are warm-up (the JIT is still compiling; they are discarded), then
 * several timed rounds give a median, which resists the odd round slowed by a GC or by the
 * noisy shared host, and a min–max spread that shows how noisy the run was.
 *
 * `body` returns a number derived from what it computed (e.g. the sum of popped values); the sum
 * of those is kept in `sink`, so the JIT cannot drop the work as unused.
 */

/** A timing in nanoseconds per operation: median, fastest and slowest timed round. */
export interface Timing {
  median: number;
  min: number;
  max: number;
}

/** Accumulates what timed bodies return, so their work is observably used. */
export let sink = 0;

/**
 * Calls `body(iterations)` for `warmup` discarded rounds, then `rounds` timed rounds, and returns
 * the nanoseconds per operation, where one call of `body` performs `iterations` operations.
 */
export function nsPerOp(
  body: (iterations: number) => number,
  iterations: number,
  rounds: number,
  warmup = 2,
): Timing {
  for (let round = 0; round < warmup; round++) sink += body(iterations);
  const perOp: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const start = process.hrtime.bigint();
    sink += body(iterations);
    perOp.push(Number(process.hrtime.bigint() - start) / iterations);
  }
  return summarize(perOp);
}

/** Median, min and max of a list of samples. */
export function summarize(samples: readonly number[]): Timing {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const median =
    sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1] };
}

/** A rate in millions per second: `count` things done in `ns` nanoseconds. */
export function millionsPerSecond(count: number, ns: number): number {
  return (count / ns) * 1e3;
}
