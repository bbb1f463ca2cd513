import { join, spawn, type TaskId, task } from '@weft/scheduler';
export const noop = task('noop', (x: number) => x);
export const genNoop = task('genNoop', function* (x: number) {
  return x;
});
export const spawnJoinLoop = task('spawnJoinLoop', function* (n: number) {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += (yield* join(yield* spawn(genNoop, i))) as number;
  return sum;
});
function plainFib(n: number): number {
  return n < 2 ? n : plainFib(n - 1) + plainFib(n - 2);
}
export const fibCut = task('fibCut', function* (n: number, cutoff: number): Generator<
  unknown,
  number
> {
  if (n < cutoff) return plainFib(n);
  const a: TaskId<number> = yield* spawn(fibCut, n - 1, cutoff);
  const b = (yield* join((yield* spawn(fibCut, n - 2, cutoff)) as TaskId<number>)) as number;
  return ((yield* join(a)) as number) + b;
});
export { plainFib };
