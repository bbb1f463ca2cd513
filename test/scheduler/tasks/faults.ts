// Tasks that fail in every way a task can.
import { join, self, type TaskId, task } from '@weft/scheduler';

export class QuotaError extends Error {
  readonly code = 'E_QUOTA';
  readonly limit: number;
  constructor(limit: number) {
    super(`over quota (${limit})`);
    this.name = 'QuotaError';
    this.limit = limit;
  }
}

export const thrower = task('thrower', function* (limit: number) {
  yield* [];
  throw new QuotaError(limit);
});

export const throwsString = task('throwsString', () => {
  throw 'just a string';
});

export const returnsFunction = task('returnsFunction', () => () => 1);

export const joinsItself = task('joinsItself', function* () {
  return yield* join(self());
});

export const yieldsGarbage = task('yieldsGarbage', function* () {
  yield 42;
});

export const exits = task('exits', (code: number) => {
  process.exit(code);
});

export const throwsLater = task('throwsLater', () => {
  setTimeout(() => {
    throw new Error('escaped the task');
  });
  return new Promise(() => {}); // never settles: the worker dies first
});

export const joinsStale = task('joinsStale', function* (id: number) {
  try {
    return yield* join(id as TaskId<unknown>);
  } catch (error) {
    return (error as { code?: string }).code;
  }
});

export const big = task('big', (bytes: number) => new Uint8Array(bytes).fill(7));
