import { ErrorCode, WeftError } from '@weft/shm';
import test from 'ava';
import { startFor, taskModule } from './helpers.ts';
import { add, data, echo, echoAsync, fib, fibAsync, greet, whoAmI } from './tasks/basic.ts';
import { big } from './tasks/faults.ts';

const tasks = [taskModule('basic.ts'), taskModule('faults.ts')];

for (const workers of [0, 2]) {
  const mode = `workers: ${workers}`;

  test(`${mode}: plain, async and generator bodies spawn and join`, async (t) => {
    t.timeout(30_000);
    const sched = await startFor(t, { workers, tasks });
    t.is(sched.groups, Math.max(1, workers));
    t.is(await sched.run(add, 2, 3), 5);
    t.is(await sched.run(greet, 'weft'), 'hello, weft');
    t.is(await sched.run(echo, 'generator'), 'generator');
    const id = sched.spawn(add, 40, 2);
    t.true(Number.isSafeInteger(id) && id >= 2 ** 32, 'a TaskId is a versioned slot id');
    t.is(await sched.join(id), 42);
  });

  test(`${mode}: values of every kind round-trip`, async (t) => {
    t.timeout(30_000);
    const sched = await startFor(t, { workers, tasks });
    const values = [
      0,
      -1.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      2 ** 53,
      true,
      false,
      null,
      undefined,
      '',
      'text ✓',
      { nested: [1, { deep: 'yes' }] },
      [1, 2, 3],
      new Map([[1, 'a']]),
      new Date(0),
      10n,
      new Uint8Array([1, 2, 3]),
      /re/g,
    ];
    for (const value of values) t.deepEqual(await sched.run(echo, value), value, String(value));
    t.deepEqual(await sched.run(echoAsync, 1, 'two', { three: 3 }, [4], null), [
      1,
      'two',
      { three: 3 },
      [4],
      null,
    ]);
    t.deepEqual(await sched.run(echoAsync), []);
  });

  test(`${mode}: large values are chained through the payload store`, async (t) => {
    t.timeout(30_000);
    const sched = await startFor(t, { workers, tasks });
    const result = (await sched.run(big, 300_000)) as Uint8Array;
    t.is(result.length, 300_000);
    t.true(result.every((byte) => byte === 7));
    const text = 'x'.repeat(200_000);
    t.is(await sched.run(echo, text), text);
  });

  test(`${mode}: fork-join fib(20) with a spawn at every level`, async (t) => {
    t.timeout(60_000);
    const sched = await startFor(t, { workers, tasks });
    t.is(await sched.run(fib, 20), 6765);
    t.is(await sched.run(fibAsync, 15), 610);
  });

  test(`${mode}: self() is the task's own id; schedulerData() reaches every task`, async (t) => {
    t.timeout(30_000);
    const sched = await startFor(t, { workers, tasks, data: { answer: 42 } });
    const id = sched.spawn(whoAmI);
    t.is((await sched.join(id)).id, id);
    t.deepEqual(await sched.run(data), { answer: 42 });
  });

  test(`${mode}: stats count what ran`, async (t) => {
    t.timeout(30_000);
    const sched = await startFor(t, { workers, tasks });
    await sched.run(fib, 10);
    await new Promise((resolve) => setTimeout(resolve, 20)); // groups publish counts when they park
    const stats = sched.stats();
    t.is(stats.groups.length, Math.max(1, workers));
    t.is(stats.spawnedHere, 1);
    t.is(stats.pendingJoins, 0);
    const run = stats.groups.reduce((sum, g) => sum + g.tasksRun, 0);
    t.is(run, 177, 'fib(10) is 177 tasks');
    t.true(stats.groups.every((g) => g.alive && g.liveFibers === 0 && g.deque === 0));
  });
}

test('a task the workers did not register is E_UNKNOWN_TASK', async (t) => {
  t.timeout(30_000);
  // Workers import only faults.ts (this thread imported basic.ts too, but that does not count).
  const sched = await startFor(t, { workers: 1, tasks: [taskModule('faults.ts')] });
  t.throws(() => sched.spawn(add, 1, 2), {
    instanceOf: WeftError,
    code: ErrorCode.UNKNOWN_TASK,
    message: /unknown task "add"/,
  });
  t.throws(() => sched.spawn({ name: 'nope' } as unknown as typeof add, 1, 2), {
    instanceOf: TypeError,
    code: 'E_INVALID_ARGUMENT',
  });
});
