// Run with workers: 0, where the tasks share this thread and record events in one array.
import test from 'ava';
import { startFor, taskModule } from './helpers.ts';
import {
  asyncSleeper,
  backgroundParent,
  cancelAfterStart,
  events,
  sleeper,
  urgentParent,
  yielder,
} from './tasks/ordering.ts';

const tasks = [taskModule('ordering.ts')];

// Tests in this file share `events`: run them one at a time.
test.serial.beforeEach(() => {
  events.length = 0;
});

test.serial('spawnUrgent runs the child before the parent continues', async (t) => {
  const sched = await startFor(t, { workers: 0, tasks });
  await sched.run(urgentParent);
  t.deepEqual(events, ['parent before', 'urgent child ran', 'parent after']);
});

test.serial('spawn queues the child: the parent continues first', async (t) => {
  const sched = await startFor(t, { workers: 0, tasks });
  await sched.run(backgroundParent);
  t.deepEqual(events, ['parent before', 'parent after', 'background child ran']);
});

test.serial('yieldNow lets the other ready fibers run in turn', async (t) => {
  const sched = await startFor(t, { workers: 0, tasks });
  const a = sched.spawn(yielder, 'a', 3);
  const b = sched.spawn(yielder, 'b', 3);
  await Promise.all([sched.join(a), sched.join(b)]);
  t.deepEqual(events, ['a0', 'b0', 'a1', 'b1', 'a2', 'b2']);
});

test.serial('sleep parks the fiber for at least the time asked', async (t) => {
  const sched = await startFor(t, { workers: 0, tasks });
  const start = performance.now();
  await sched.run(sleeper, 30);
  t.true(performance.now() - start >= 29);
  t.deepEqual(events, ['sleeper start', 'sleeper woke', 'sleeper finally']);
});

test.serial(
  'cancel unwinds a parked fiber through its finally blocks; joiners get E_CANCELLED',
  async (t) => {
    const sched = await startFor(t, { workers: 0, tasks });
    t.is(await sched.run(cancelAfterStart), 'E_CANCELLED');
    t.deepEqual(events, ['sleeper start', 'sleeper finally']);
  },
);

test.serial('cancel from outside: a queued task never starts, a running one unwinds', async (t) => {
  const sched = await startFor(t, { workers: 0, tasks });
  const running = sched.spawn(sleeper, 60_000);
  await new Promise((resolve) => setTimeout(resolve, 20)); // let it start and park
  const queued = sched.spawn(sleeper, 60_000);
  sched.cancel(queued); // cancelled before the group took it
  sched.cancel(running);
  await t.throwsAsync(sched.join(running), {
    code: 'E_CANCELLED',
    message: /sleeper.*was cancelled/,
  });
  await t.throwsAsync(sched.join(queued), { code: 'E_CANCELLED' });
  t.deepEqual(events, ['sleeper start', 'sleeper finally']);
});

test.serial('an async task is cancelled at its next await of a weft effect', async (t) => {
  const sched = await startFor(t, { workers: 0, tasks });
  const id = sched.spawn(asyncSleeper, 60_000);
  await new Promise((resolve) => setTimeout(resolve, 20));
  sched.cancel(id);
  await t.throwsAsync(sched.join(id), { code: 'E_CANCELLED' });
  t.deepEqual(events, ['async start', 'async finally']);
});

test.serial('run with an AbortSignal cancels the task when aborted', async (t) => {
  const sched = await startFor(t, { workers: 0, tasks });
  const controller = new AbortController();
  const result = sched.run(sleeper, 60_000, { signal: controller.signal });
  setTimeout(() => controller.abort(), 20);
  await t.throwsAsync(result, { code: 'E_CANCELLED' });
  const aborted = AbortSignal.abort();
  await t.throwsAsync(sched.run(sleeper, 60_000, { signal: aborted }), { code: 'E_CANCELLED' });
  t.false(events.includes('sleeper woke'));
});

test.serial(
  'a parked group is woken by the timer thread for a fiber sleep, never early',
  async (t) => {
    t.timeout(30_000);
    const sched = await startFor(t, { workers: 1, tasks });
    await sched.run(sleeper, 1); // warm
    await new Promise((resolve) => setTimeout(resolve, 30)); // the group parks
    const parksBefore = sched.stats().groups[0].parks;
    const start = performance.now();
    await sched.run(sleeper, 40);
    t.true(performance.now() - start >= 39.5, 'not early');
    await new Promise((resolve) => setTimeout(resolve, 30));
    t.true(sched.stats().groups[0].parks > parksBefore, 'the group parked while the fiber slept');
  },
);
