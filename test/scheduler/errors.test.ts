import { join, self, sleep, spawn } from '@weft/scheduler';
import { ErrorCode, WeftError } from '@weft/shm';
import test from 'ava';
import { startFor, taskModule } from './helpers.ts';
import { add, napper } from './tasks/basic.ts';
import {
  joinsItself,
  joinsStale,
  type QuotaError,
  returnsFunction,
  thrower,
  throwsString,
  yieldsGarbage,
} from './tasks/faults.ts';

const tasks = [taskModule('basic.ts'), taskModule('faults.ts')];

test('a task that throws rejects its join with the error: class, name, fields and remote stack', async (t) => {
  t.timeout(30_000);
  const sched = await startFor(t, { workers: 1, tasks });
  const error = await t.throwsAsync(sched.run(thrower, 5));
  t.is(error.name, 'QuotaError');
  t.is(error.message, 'over quota (5)');
  t.is((error as QuotaError).code, 'E_QUOTA');
  t.is((error as QuotaError).limit, 5);
  t.regex(error.stack ?? '', /faults\.ts/, "the stack is the task's, from the worker");
  t.is(await sched.run(throwsString).catch((thrown) => thrown), 'just a string');
});

test('a non-cloneable argument fails at spawn, naming the task; nothing is queued', async (t) => {
  t.timeout(30_000);
  const sched = await startFor(t, { workers: 1, tasks });
  t.throws(() => sched.spawn(add, (() => 1) as never, 2), {
    instanceOf: WeftError,
    code: ErrorCode.NOT_CLONEABLE,
    message: /argument of task "add"/,
  });
  t.throws(() => sched.spawn(add, Symbol('s') as never, { f() {} } as never), {
    code: ErrorCode.NOT_CLONEABLE,
  });
  t.is(await sched.run(add, 1, 2), 3, 'the scheduler is still fine');
});

test('a non-cloneable result fails the task with E_NOT_CLONEABLE naming it', async (t) => {
  t.timeout(30_000);
  const sched = await startFor(t, { workers: 1, tasks });
  await t.throwsAsync(sched.run(returnsFunction), {
    code: ErrorCode.NOT_CLONEABLE,
    message: /result of task "returnsFunction"/,
  });
});

test('stale and foreign ids are E_STALE_ID at once, never a hang', async (t) => {
  t.timeout(30_000);
  const sched = await startFor(t, { workers: 1, tasks });
  const id = sched.spawn(add, 1, 1);
  t.is(await sched.join(id), 2);
  await t.throwsAsync(sched.join(id), {
    code: ErrorCode.STALE_ID,
    message: /already joined or detached/,
  });
  await t.throwsAsync(sched.join(12345 as never), {
    code: ErrorCode.STALE_ID,
    message: /not a TaskId/,
  });
  await t.throwsAsync(sched.join((2 ** 40 + 7) as never), { code: ErrorCode.STALE_ID });
  t.throws(() => sched.cancel(id), { code: ErrorCode.STALE_ID });
  t.throws(() => sched.detach(id), { code: ErrorCode.STALE_ID });
  t.is(await sched.run(joinsStale, id), ErrorCode.STALE_ID, 'inside a fiber too');
});

test('a task joining itself is E_DEADLOCK', async (t) => {
  t.timeout(30_000);
  const sched = await startFor(t, { workers: 1, tasks });
  await t.throwsAsync(sched.run(joinsItself), {
    code: ErrorCode.DEADLOCK,
    message: /cannot join itself/,
  });
});

test('a generator yielding something other than an effect gets a TypeError at that yield', async (t) => {
  t.timeout(30_000);
  const sched = await startFor(t, { workers: 1, tasks });
  await t.throwsAsync(sched.run(yieldsGarbage), {
    instanceOf: TypeError,
    message: /not a weft effect/,
  });
});

test('a full task table is E_CAPACITY naming the capacity and the option', async (t) => {
  t.timeout(30_000);
  const sched = await startFor(t, { workers: 1, tasks, maxTasks: 8 });
  const ids = Array.from({ length: 8 }, () => sched.spawn(napper, 50));
  t.throws(() => sched.spawn(add, 1, 2), {
    code: ErrorCode.CAPACITY,
    message: /all 8 slots.*maxTasks/,
  });
  for (const id of ids) await sched.join(id);
  t.is(await sched.run(add, 1, 2), 3, 'joining frees the slots');
});

test('join with a timeout gives up with E_TIMEOUT; the task runs on and can be joined later', async (t) => {
  t.timeout(30_000);
  const sched = await startFor(t, { workers: 1, tasks });
  const id = sched.spawn(napper, 100);
  await t.throwsAsync(sched.join(id, { timeout: 5 }), {
    code: ErrorCode.TIMEOUT,
    message: /timed out after 5 ms/,
  });
  t.true((await sched.join(id)) >= 99);
  await t.throwsAsync(sched.join(sched.spawn(add, 1, 1), { timeout: -1 }), {
    code: ErrorCode.OUT_OF_RANGE,
  });
});

test('detach drops the result: the id goes stale once the task is done', async (t) => {
  t.timeout(30_000);
  const sched = await startFor(t, { workers: 1, tasks, maxTasks: 4 });
  for (let round = 0; round < 5; round++) {
    const ids = Array.from({ length: 4 }, () => sched.spawn(napper, 1));
    for (const id of ids) sched.detach(id);
    await t.throwsAsync(sched.join(ids[0]), { code: 'E_STALE_ID' });
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
  t.is(await sched.run(add, 2, 2), 4, 'detached tasks released their slots (maxTasks is 4)');
});

test('fiber-only operations outside a task are E_NOT_IN_FIBER', async (t) => {
  t.throws(() => self(), { code: ErrorCode.NOT_IN_FIBER, message: /only inside a task/ });
  await t.throwsAsync(async () => await sleep(1), { code: ErrorCode.NOT_IN_FIBER });
  await t.throwsAsync(async () => await join(1 as never), { code: ErrorCode.NOT_IN_FIBER });
  t.truthy(spawn(add, 1, 2), 'creating an effect is fine; performing it needs a fiber');
});

test('bad start options are rejected with the rule', async (t) => {
  const { Scheduler } = await import('@weft/scheduler');
  await t.throwsAsync(Scheduler.start({ workers: -1 }), {
    code: ErrorCode.OUT_OF_RANGE,
    message: /workers must be an integer from 0 to 64/,
  });
  await t.throwsAsync(Scheduler.start({ workers: 0, maxTasks: 0 }), {
    code: ErrorCode.OUT_OF_RANGE,
    message: /maxTasks/,
  });
  await t.throwsAsync(Scheduler.start({ workers: 0, tasks: 5 as never }), {
    code: ErrorCode.INVALID_ARGUMENT,
  });
});
