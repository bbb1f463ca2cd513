/**
 * The machine's 2-thread CPU probe: how much parallel CPU this box gives right now.
 *
 * These machines are shared 2-vCPU guests whose second vCPU sometimes behaves like no CPU at all
 * (shared/research/BASELINES.md, note 1: a 2-worker speed-up of 1.75× one hour, 0.9× another).
 * A parallel figure means little without knowing which kind of hour it was measured in, so every
 * benchmark with parallel figures runs this probe and prints it beside them.
 *
 * The probe runs fib(27) (~1.5 ms of pure CPU, the figure BASELINES.md reports) CALLS times on
 * one worker thread, then CALLS times on each of two worker threads at once. Both runs use the
 * threads harness, so worker start-up is not timed, and each worker warms fib up first. A
 * speed-up near 2× means two real cores; near 1× means the two threads shared one.
 */
import { runThreads } from './threads.ts';

/** What the probe measured. */
export interface CpuProbe {
  /** fib(27) calls per second on one thread alone. */
  singleThreadOpsPerSec: number;
  /** Throughput of two threads at once over one thread alone (2 = perfect, 1 = no gain). */
  twoThreadSpeedup: number;
}

/** fib(27) calls per thread per run: ~0.3 s on this machine. */
const CALLS = 200;
const WORKER = new URL('./cpu-probe-worker.ts', import.meta.url);

/** Runs the probe (about a second). */
export async function probeCpu(): Promise<CpuProbe> {
  const [alone] = await runThreads(WORKER, [CALLS], { rounds: 1 });
  const [pair] = await runThreads(WORKER, [CALLS, CALLS], { rounds: 1 });
  return {
    singleThreadOpsPerSec: CALLS / (alone.wallNs / 1e9),
    twoThreadSpeedup: (2 * alone.wallNs) / pair.wallNs,
  };
}

/** The probe as one line, e.g. "cpu probe: fib(27) 690 calls/s on 1 thread, 1.76× on 2 threads". */
export function describeProbe(probe: CpuProbe): string {
  const rate = Math.round(probe.singleThreadOpsPerSec);
  const speedup = probe.twoThreadSpeedup.toFixed(2);
  return (
    `cpu probe: fib(27) ${rate} calls/s on 1 thread, ${speedup}× on 2 threads at once ` +
    '(2× = two real cores)'
  );
}
