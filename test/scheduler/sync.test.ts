import { CondVar, CountdownEvent, Mutex } from '@weft/scheduler';
import { ErrorCode } from '@weft/shm';
import test from 'ava';
import { startFor, taskModule } from './helpers.ts';
import {
  awaitFlag,
  contend,
  contendAsync,
  contendFromTask,
  countDown,
  lockForever,
  makePrimitives,
  waitForCount,
} from './tasks/sync.ts';

const tasks = [taskModule('sync.ts')];
const withCells = () => ({ cells: new SharedArrayBuffer(64) });

test('Mutex: fibers on two groups and this thread contend; no update is lost', async (t) => {
  t.timeout(60_000);
  const data = withCells();
  const sched = await startFor(t, { workers: 2, tasks, data });
  const mutex = Mutex.create(sched);
  const ids = [
    ...Array.from({ length: 12 }, () => sched.spawn(contend, mutex, 200)),
    ...Array.from({ length: 4 }, () => sched.spawn(contendAsync, mutex, 50)),
  ];
  const counter = new Int32Array(data.cells);
  for (let i = 0; i < 100; i++) {
    await mutex.lock(); // the thread side: Atomics.waitAsync on the same butex
    counter[0]++;
    mutex.unlock();
  }
  for (const id of ids) await sched.join(id);
  t.is(counter[0], 12 * 200 + 4 * 50 + 100);
  t.false(!mutex.tryLock(), 'free again at the end');
  mutex.unlock();
});

test('Mutex created inside a task, shared with its children across groups', async (t) => {
  t.timeout(60_000);
  const sched = await startFor(t, { workers: 2, tasks, data: withCells() });
  t.is(await sched.run(contendFromTask, 16, 100), 1600);
});

test('CondVar: waiters park until a broadcast under the mutex', async (t) => {
  t.timeout(60_000);
  const data = withCells();
  const sched = await startFor(t, { workers: 2, tasks, data });
  const mutex = Mutex.create(sched);
  const changed = CondVar.create(sched);
  const waiters = Array.from({ length: 20 }, () => sched.spawn(awaitFlag, mutex, changed));
  await new Promise((resolve) => setTimeout(resolve, 30));
  await mutex.lock();
  new Int32Array(data.cells)[1] = 99;
  changed.broadcast();
  mutex.unlock();
  t.deepEqual(new Set(await Promise.all(waiters.map((id) => sched.join(id)))), new Set([99]));
});

test('CondVar: a timed wait returns false when nobody signals', async (t) => {
  const sched = await startFor(t, { workers: 0, tasks, data: withCells() });
  const mutex = Mutex.create(sched);
  const changed = CondVar.create(sched);
  await mutex.lock();
  t.false(await changed.wait(mutex, { timeout: 10 }));
  t.false(mutex.tryLock(), 'the mutex is held again after the wait');
  mutex.unlock();
});

test('CountdownEvent: waiters wake when the count reaches zero; timeouts say false', async (t) => {
  t.timeout(60_000);
  const sched = await startFor(t, { workers: 2, tasks, data: withCells() });
  const event = CountdownEvent.create(10, sched);
  const waiters = Array.from({ length: 5 }, () => sched.spawn(waitForCount, event));
  t.false(await sched.run(waitForCount, event, 5), 'not yet');
  for (let i = 0; i < 10; i++) sched.spawn(countDown, event);
  t.true(await event.wait(), 'this thread waits too');
  t.deepEqual(await Promise.all(waiters.map((id) => sched.join(id))), [
    true,
    true,
    true,
    true,
    true,
  ]);
  t.is(event.count, 0);
  t.true(await event.wait({ timeout: 0 }), 'already zero');
});

test('primitives travel as task arguments and results, bound to the receiving thread', async (t) => {
  t.timeout(60_000);
  const sched = await startFor(t, { workers: 1, tasks, data: withCells() });
  const { mutex, event } = (await sched.run(makePrimitives)) as {
    mutex: Mutex;
    event: CountdownEvent;
  };
  t.true(mutex instanceof Mutex);
  t.true(event instanceof CountdownEvent);
  t.is(event.count, 2);
  t.true(mutex.tryLock());
  mutex.unlock();
});

test('a fiber parked on a mutex can be cancelled, and the mutex still works', async (t) => {
  t.timeout(60_000);
  const sched = await startFor(t, { workers: 1, tasks, data: withCells() });
  const mutex = Mutex.create(sched);
  t.true(mutex.tryLock());
  const blocked = sched.spawn(lockForever, mutex);
  await new Promise((resolve) => setTimeout(resolve, 20));
  sched.cancel(blocked);
  await t.throwsAsync(sched.join(blocked), { code: ErrorCode.CANCELLED });
  mutex.unlock();
  t.is(await sched.run(lockForever, mutex), 'locked');
});

test('bad use: unlock when not locked, a destroyed primitive, creation outside a task, full table', async (t) => {
  const sched = await startFor(t, { workers: 0, tasks, data: withCells(), maxButexes: 2 });
  const mutex = Mutex.create(sched);
  t.throws(() => mutex.unlock(), { code: ErrorCode.NOT_LOCKED });
  t.true(mutex.tryLock(), 'a bad unlock leaves the mutex usable');
  mutex.unlock();
  const event = CountdownEvent.create(1, sched);
  t.throws(() => CondVar.create(sched), {
    code: ErrorCode.CAPACITY,
    message: /all 2 are in use.*maxButexes/,
  });
  event.destroy();
  t.throws(() => event.countDown(), {
    code: ErrorCode.STALE_ID,
    message: /CountdownEvent was destroyed/,
  });
  t.notThrows(() => CondVar.create(sched), 'destroy freed its butex');
  t.throws(() => Mutex.create(), { code: ErrorCode.NOT_IN_FIBER });
  t.throws(() => Mutex.create({}), { code: ErrorCode.INVALID_ARGUMENT });
  t.throws(() => CountdownEvent.create(-1, sched), { code: ErrorCode.OUT_OF_RANGE });
});
