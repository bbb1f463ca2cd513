import type { Scheduler } from '@weft/scheduler';
import { joinTask, runTask, useScheduler } from '@weft/scheduler/effection';
import { ErrorCode } from '@weft/shm';
import test from 'ava';
import { run, sleep, spawn } from 'effection';
import { startFor, taskModule } from './helpers.ts';
import { add } from './tasks/basic.ts';
import { bridged, bridgedForever, longSleep } from './tasks/bridge.ts';

const tasks = [taskModule('basic.ts'), taskModule('bridge.ts')];
const withCells = () => ({ cells: new SharedArrayBuffer(64) });

test('useScheduler starts a scheduler for the scope and closes it when the scope ends', async (t) => {
  t.timeout(60_000);
  let escaped: Scheduler | undefined;
  const result = await run(function* () {
    const scheduler = yield* useScheduler({ workers: 1, tasks, data: withCells() });
    escaped = scheduler;
    const id = scheduler.spawn(add, 20, 1);
    return (yield* runTask(scheduler, add, 1, 2)) + (yield* joinTask(scheduler, id));
  });
  t.is(result, 24);
  t.throws(() => escaped?.spawn(add, 1, 1), { code: ErrorCode.CLOSED });
});

test('halting the scope cancels a runTask task: its finally blocks run', async (t) => {
  t.timeout(60_000);
  const data = withCells();
  await run(function* () {
    const scheduler = yield* useScheduler({ workers: 1, tasks, data });
    const waiting = yield* spawn(() => runTask(scheduler, longSleep));
    const cells = new Int32Array(data.cells);
    while (Atomics.load(cells, 4) === 0) yield* sleep(5); // running, not just queued
    yield* waiting.halt();
  });
  t.is(Atomics.load(new Int32Array(data.cells), 3), 1, 'the task unwound through its finally');
});

test('a fiber waits on an effection operation through fromOperation', async (t) => {
  t.timeout(60_000);
  const sched = await startFor(t, { workers: 1, tasks, data: withCells() });
  t.is(await sched.run(bridged, 21), 42);
});

test('cancelling the fiber halts the effection operation it waits on', async (t) => {
  t.timeout(60_000);
  const data = withCells();
  const sched = await startFor(t, { workers: 1, tasks, data });
  const id = sched.spawn(bridgedForever);
  const cells = new Int32Array(data.cells);
  // Cancel once the operation runs (a task cancelled while still queued never starts).
  for (let i = 0; i < 1000 && Atomics.load(cells, 5) === 0; i++)
    await new Promise((r) => setTimeout(r, 5));
  sched.cancel(id);
  await t.throwsAsync(sched.join(id), { code: ErrorCode.CANCELLED });
  for (let i = 0; i < 100 && Atomics.load(cells, 2) === 0; i++)
    await new Promise((r) => setTimeout(r, 10));
  t.is(Atomics.load(cells, 2), 1);
});
