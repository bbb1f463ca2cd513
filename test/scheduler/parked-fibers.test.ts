import test from 'ava';
import { startFor, taskModule } from './helpers.ts';
import { parkMany } from './tasks/basic.ts';

test('100,000 fibers parked at once on one group all wake with the result', async (t) => {
  t.timeout(120_000);
  const sched = await startFor(t, { workers: 1, tasks: [taskModule('basic.ts')] });
  t.is(await sched.run(parkMany, 100_000), 7 * 100_000);
});
