// Behaviour that needs several worker threads: stealing, cross-thread wake-ups, worker death.

import { Scheduler } from '@weft/scheduler';
import { ErrorCode, WeftError } from '@weft/shm';
import test from 'ava';
import { startFor, taskModule } from './helpers.ts';
import { add, busy, fanOut, fib, napper } from './tasks/basic.ts';
import { exits, throwsLater } from './tasks/faults.ts';

const tasks = [taskModule('basic.ts'), taskModule('faults.ts')];

test('idle groups steal: one task spawns everything, other groups run stolen tasks', async (t) => {
  t.timeout(60_000);
  const sched = await startFor(t, { workers: 2, tasks });
  const threads = await sched.run(fanOut, 200, 1);
  t.is(threads.length, 200);
  t.true(new Set(threads).size === 2, 'the busy tasks ran on both worker threads');
  await new Promise((resolve) => setTimeout(resolve, 20));
  const stolen = sched.stats().groups.map((g) => g.stolen);
  t.log(`stolen per group: ${stolen.join(', ')}`);
  t.true(stolen.some((n) => n > 0));
});

test('cross-thread wake: fibers joining tasks that ran on the other thread are woken there', async (t) => {
  t.timeout(60_000);
  const sched = await startFor(t, { workers: 2, tasks });
  // Each fanOut joins tasks some of which are stolen by the other group; repeat to be sure.
  for (let round = 0; round < 10; round++) t.is((await sched.run(fanOut, 50, 0.2)).length, 50);
  t.is(await sched.run(fib, 18), 2584);
});

test('many joins from the main thread at once all settle', async (t) => {
  t.timeout(60_000);
  const sched = await startFor(t, { workers: 2, tasks });
  const ids = Array.from({ length: 5000 }, (_, i) => sched.spawn(add, i, 1));
  const results = await Promise.all(ids.map((id) => sched.join(id)));
  t.deepEqual(
    results,
    ids.map((_, i) => i + 1),
  );
});

test('a worker that exits is replaced: its fibers fail with E_WORKER_DIED, queued tasks still run', async (t) => {
  t.timeout(60_000);
  const sched = await startFor(t, { workers: 2, tasks });
  const victim = sched.spawn(exits, 3);
  const others = Array.from({ length: 200 }, (_, i) => sched.spawn(busy, 0.1 + (i % 3) * 0.1));
  const error = await t.throwsAsync(sched.join(victim), {
    instanceOf: WeftError,
    code: ErrorCode.WORKER_DIED,
  });
  t.regex(error.message, /died while running task "exits": it exited with code 3/);
  const threads = await Promise.all(others.map((id) => sched.join(id)));
  t.is(threads.length, 200, 'nothing queued was lost');
  t.is(await sched.run(add, 1, 1), 2, 'the replacement worker runs tasks');
  t.is(sched.stats().workerDeaths, 1);
});

test('an uncaught error in a worker is the cause named by E_WORKER_DIED', async (t) => {
  t.timeout(60_000);
  const sched = await startFor(t, { workers: 1, tasks });
  await t.throwsAsync(sched.run(throwsLater), {
    code: ErrorCode.WORKER_DIED,
    message: /uncaught Error: escaped the task/,
  });
  t.is(await sched.run(add, 2, 2), 4);
});

test('a task that killed 3 workers in a row is poison: E_POISON, and workers stop dying', async (t) => {
  t.timeout(90_000);
  const sched = await startFor(t, { workers: 1, tasks });
  for (let i = 0; i < 3; i++)
    await t.throwsAsync(sched.run(exits, 1), { code: ErrorCode.WORKER_DIED });
  await t.throwsAsync(sched.run(exits, 1), {
    code: ErrorCode.POISON,
    message: /killed 3 workers in a row/,
  });
  t.is(sched.stats().workerDeaths, 3);
  t.is(await sched.run(add, 3, 4), 7, 'other tasks still run');
});

test('close drains: queued and running tasks finish; later calls are E_CLOSED', async (t) => {
  t.timeout(60_000);
  const sched = await Scheduler.start({ workers: 2, tasks });
  const ids = Array.from({ length: 100 }, () => sched.spawn(napper, 5));
  const joins = ids.map((id) => sched.join(id));
  await sched.close();
  t.is((await Promise.all(joins)).length, 100);
  t.throws(() => sched.spawn(add, 1, 2), { code: ErrorCode.CLOSED });
  await t.throwsAsync(sched.join(ids[0]), { code: ErrorCode.CLOSED });
  await sched.close(); // idempotent
});

test('close without drain cancels the outstanding work', async (t) => {
  t.timeout(60_000);
  const sched = await Scheduler.start({ workers: 2, tasks });
  const ids = Array.from({ length: 50 }, () => sched.spawn(napper, 60_000));
  const joins = ids.map((id) => sched.join(id).catch((error) => (error as WeftError).code));
  await sched.close({ drain: false });
  t.deepEqual(new Set(await Promise.all(joins)), new Set([ErrorCode.CANCELLED]));
});

test('await using closes the scheduler', async (t) => {
  t.timeout(60_000);
  let escaped: Scheduler | undefined;
  {
    await using sched = await Scheduler.start({ workers: 1, tasks });
    escaped = sched;
    t.is(await sched.run(add, 1, 1), 2);
  }
  t.throws(() => escaped?.spawn(add, 1, 1), { code: ErrorCode.CLOSED });
});

test('workers that register different tasks fail the start with E_REGISTRY_MISMATCH', async (t) => {
  t.timeout(60_000);
  await t.throwsAsync(Scheduler.start({ workers: 2, tasks: [taskModule('uneven.ts')] }), {
    code: ErrorCode.REGISTRY_MISMATCH,
    message: /worker 1 registered different tasks.*extra: onlyOnWorker1/,
  });
});

test('a task module that fails to load fails the start with E_WORKER_BOOT', async (t) => {
  t.timeout(60_000);
  await t.throwsAsync(Scheduler.start({ workers: 2, tasks: [taskModule('broken.ts')] }), {
    code: ErrorCode.WORKER_BOOT,
    message: /failed to start: this task module is broken/,
  });
});

test('stress: 300 fork-join trees at once from the main thread on 3 workers, every result right', async (t) => {
  t.timeout(120_000);
  const sched = await startFor(t, { workers: 3, tasks });
  const expected = [0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610];
  const ns = Array.from({ length: 300 }, (_, i) => 5 + (i % 11));
  const results = await Promise.all(ns.map((n) => sched.run(fib, n)));
  t.deepEqual(
    results,
    ns.map((n) => expected[n]),
  );
  await new Promise((resolve) => setTimeout(resolve, 30));
  const stats = sched.stats();
  t.is(stats.pendingJoins, 0);
  t.true(
    stats.groups.every((g) => g.liveFibers === 0),
    'no fiber left behind',
  );
});
