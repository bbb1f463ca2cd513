// Tasks that synchronize through Mutex, CondVar and CountdownEvent. The shared state they guard
// is an Int32Array over the SharedArrayBuffer given as the scheduler's data.
import {
  type CondVar,
  CountdownEvent,
  join,
  Mutex,
  schedulerData,
  spawn,
  type TaskId,
  task,
  yieldNow,
} from '@weft/scheduler';

const cells = () => new Int32Array(schedulerData<{ cells: SharedArrayBuffer }>().cells);

/** Adds 1 to cell 0, `rounds` times, with a yield inside the critical section to invite races. */
export const contend = task('contend', function* (mutex: Mutex, rounds: number) {
  const counter = cells();
  for (let i = 0; i < rounds; i++) {
    yield* mutex.lock();
    const seen = counter[0];
    yield* yieldNow();
    counter[0] = seen + 1;
    mutex.unlock();
  }
});

export const contendAsync = task('contendAsync', async (mutex: Mutex, rounds: number) => {
  const counter = cells();
  for (let i = 0; i < rounds; i++) {
    await mutex.lock();
    const seen = counter[0];
    await new Promise((resolve) => setImmediate(resolve));
    counter[0] = seen + 1;
    mutex.unlock();
  }
});

/** Waits under `mutex` until cell 1 is set, then returns it. */
export const awaitFlag = task('awaitFlag', function* (mutex: Mutex, changed: CondVar) {
  const flags = cells();
  yield* mutex.lock();
  try {
    while (flags[1] === 0) yield* changed.wait(mutex);
    return flags[1];
  } finally {
    mutex.unlock();
  }
});

export const waitForCount = task(
  'waitForCount',
  function* (event: CountdownEvent, timeout?: number) {
    return yield* event.wait(timeout === undefined ? undefined : { timeout });
  },
);

export const countDown = task('countDown', function* (event: CountdownEvent) {
  yield* yieldNow();
  event.countDown();
});

/** Creates primitives inside a task and hands them back. */
export const makePrimitives = task('makePrimitives', function* () {
  return { mutex: Mutex.create(), event: CountdownEvent.create(2) };
});

/** Spawns `n` contenders on a mutex it creates, joins them, and reports the count. */
export const contendFromTask = task('contendFromTask', function* (n: number, rounds: number) {
  const mutex = Mutex.create();
  const ids: TaskId<void>[] = [];
  for (let i = 0; i < n; i++) ids.push(yield* spawn(contend, mutex, rounds));
  for (const id of ids) yield* join(id);
  mutex.destroy();
  return cells()[0];
});

export const lockForever = task('lockForever', function* (mutex: Mutex) {
  yield* mutex.lock();
  return 'locked';
});
