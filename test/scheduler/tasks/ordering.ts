// Tasks that record the order things happen in. Run with workers: 0, so that the test reads the
// same `events` array the tasks write.
import {
  cancel,
  join,
  sleep,
  spawn,
  spawnUrgent,
  type TaskId,
  task,
  yieldNow,
} from '@weft/scheduler';

export const events: string[] = [];

export const note = task('note', function* (label: string) {
  events.push(`${label} ran`);
});

export const urgentParent = task('urgentParent', function* () {
  events.push('parent before');
  const child = yield* spawnUrgent(note, 'urgent child');
  events.push('parent after');
  yield* join(child);
});

export const backgroundParent = task('backgroundParent', function* () {
  events.push('parent before');
  const child = yield* spawn(note, 'background child');
  events.push('parent after');
  yield* join(child);
});

export const yielder = task('yielder', function* (label: string, rounds: number) {
  for (let i = 0; i < rounds; i++) {
    events.push(`${label}${i}`);
    yield* yieldNow();
  }
});

export const sleeper = task('sleeper', function* (ms: number) {
  try {
    events.push('sleeper start');
    yield* sleep(ms);
    events.push('sleeper woke');
  } finally {
    events.push('sleeper finally');
  }
});

export const cancelAfterStart = task('cancelAfterStart', function* () {
  const target: TaskId<void> = yield* spawn(sleeper, 60_000);
  yield* yieldNow(); // let it start and park
  yield* yieldNow();
  yield* cancel(target);
  try {
    yield* join(target);
    return 'joined';
  } catch (error) {
    return (error as { code?: string }).code;
  }
});

export const asyncSleeper = task('asyncSleeper', async (ms: number) => {
  try {
    events.push('async start');
    await sleep(ms);
    events.push('async woke');
  } finally {
    events.push('async finally');
  }
});
