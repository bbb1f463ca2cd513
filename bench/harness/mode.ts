/**
 * Bench mode: how long a benchmark may take.
 *
 * Quick mode (the default) keeps every benchmark to a few seconds, so `pnpm bench` stays cheap
 * enough to run after any change. `--full` on the command line asks for more iterations and
 * rounds: tighter figures, for the numbers that go into a README. Each benchmark picks its sizes
 * with `byMode(quick, full)`, so the two sizes sit side by side where they are used.
 */

/** The mode of a benchmark run. */
export type BenchMode = 'quick' | 'full';

/** The one command-line flag of benchmarks and their runners. */
export const FULL_FLAG = '--full';

/** 'full' when the command line has `--full`, else 'quick'. */
export function benchMode(): BenchMode {
  return process.argv.includes(FULL_FLAG) ? 'full' : 'quick';
}

/** `quick` in quick mode, `full` in full mode. */
export function byMode<T>(quick: T, full: T): T {
  return benchMode() === 'full' ? full : quick;
}
