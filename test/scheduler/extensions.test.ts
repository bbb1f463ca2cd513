// The extension API for layers above the scheduler: park, atFiberEnd, group sources and groupLots, install/installed, onWorkerDeath, Notifier.

import { setTimeout as delay } from 'node:timers/promises';
import {
  addGroupSource,
  atFiberEnd,
  groupIndex,
  installed,
  Notifier,
  park,
  Scheduler,
} from '@weft/scheduler';
import { ErrorCode, ParkingLot, type WeftError } from '@weft/shm';
import test, { type ExecutionContext } from 'ava';
import { startFor, taskModule } from './helpers.ts';
import {
  awaitInstalled,
  badArguments,
  blocksWorker,
  bumpInstalled,
  CAUGHT_CANCELLED,
  CELLS_BYTES,
  Cell,
  dies,
  endsAsync,
  endsPlain,
  endsWith,
  fanOutInstalled,
  fedSource,
  joinsEnding,
  makeNotifier,
  notifyById,
  notifyIt,
  parkForever,
  parkForeverAsync,
  parkLater,
  parkLaterAsync,
  parkMany,
  parkNow,
  parkNowAsync,
  pendingSource,
  readInstalled,
  readInstalledAsync,
  readLog,
  spinThenPark,
  useNotifier,
  waitNotifier,
  waitNotifierAsync,
  wakeStray,
  whichGroup,
} from './tasks/extensions.ts';

const tasks = [taskModule('extensions.ts')];

/** A scheduler whose tasks share `cells` (an Int32Array over data.cells), closed at test end. */
async function startWithCells(
  t: ExecutionContext,
  workers: number,
): Promise<{ sched: Scheduler; cells: Int32Array }> {
  const shared = new SharedArrayBuffer(CELLS_BYTES);
  const sched = await startFor(t, {
    workers,
    tasks,
    data: { cells: shared },
    maxTasks: 8192,
    payloadBytes: 1024 * 1024,
  });
  return { sched, cells: new Int32Array(shared) };
}

/**
 * A scheduler for tests that show close() hanging: closed at test end without waiting more than
 * a few seconds for it.
 */
async function startLoose(t: ExecutionContext, workers: number): Promise<Scheduler> {
  const sched = await Scheduler.start({
    workers,
    tasks,
    data: { cells: new SharedArrayBuffer(CELLS_BYTES) },
  });
  t.teardown(() => Promise.race([sched.close({ drain: false, timeoutMs: 2000 }), delay(5000)]));
  return sched;
}

/** Waits (polling) until `check()` holds; throws after `ms` milliseconds. */
async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await delay(2);
  }
}

/** Collects this thread's process warnings until the returned function is called. */
function watchWarnings(): () => string[] {
  const messages: string[] = [];
  const listen = (warning: Error) => messages.push(warning.message);
  process.on('warning', listen);
  return () => {
    process.off('warning', listen);
    return messages;
  };
}

// ---- park ----------------------------------------------------------------------------------------

test('park: an arm that resumes or fails at once does not park; later waker calls do nothing', async (t) => {
  t.timeout(60_000);
  const { sched } = await startWithCells(t, 1);
  t.deepEqual(await sched.run(parkNow, 'resume'), { value: 'now', armed: 1, undone: 0 });
  t.deepEqual(await sched.run(parkNow, 'fail'), { error: 'failed at once', armed: 1, undone: 0 });
  t.deepEqual(
    await sched.run(parkNow, 'twice'),
    { value: 'first', armed: 1, undone: 0 },
    'the first call settles; the second resume and the fail are ignored',
  );
  t.deepEqual(
    await sched.run(parkNow, 'throw'),
    { error: 'arm threw', armed: 1, undone: 0 },
    'an arm that throws: the error is thrown at the yield*',
  );
  t.deepEqual(await sched.run(parkNowAsync, 'resume'), { value: 'now', armed: 1, undone: 0 });
  t.deepEqual(await sched.run(parkNowAsync, 'fail'), {
    error: 'failed at once',
    armed: 1,
    undone: 0,
  });
  t.deepEqual(await sched.run(parkNowAsync, 'throw'), {
    error: 'arm threw',
    armed: 1,
    undone: 0,
  });
});

for (const workers of [0, 1]) {
  test(`park: a waker called later on the fiber's thread resumes or fails it (timer, immediate, microtask; workers: ${workers})`, async (t) => {
    t.timeout(60_000);
    const { sched } = await startWithCells(t, workers);
    for (const via of ['timeout', 'immediate', 'microtask']) {
      t.deepEqual(await sched.run(parkLater, via, false), {
        value: `resumed via ${via}`,
        armed: 1,
      });
      t.deepEqual(await sched.run(parkLater, via, true), {
        error: `RangeError: failed via ${via}`,
        armed: 1,
      });
      t.deepEqual(await sched.run(parkLaterAsync, via, false), { value: `resumed via ${via}` });
      t.deepEqual(await sched.run(parkLaterAsync, via, true), {
        error: `RangeError: failed via ${via}`,
      });
    }
  });
}

test('park: 500 fibers parked at once each resume with their own value', async (t) => {
  t.timeout(60_000);
  const { sched } = await startWithCells(t, 2);
  t.is(await sched.run(parkMany, 500), 500 * 499);
});

test('park: a fiber cancelled while parked runs its undo and unwinds; its joiner gets E_CANCELLED; its waker then does nothing', async (t) => {
  t.timeout(60_000);
  const { sched, cells } = await startWithCells(t, 1);
  const id = sched.spawn(parkForever, true);
  await until(() => Atomics.load(cells, Cell.READY) === 1, 'the fiber to park');
  sched.cancel(id);
  await t.throwsAsync(sched.join(id), { code: ErrorCode.CANCELLED });
  t.is(Atomics.load(cells, Cell.UNDONE), 1, 'the undo ran once');
  t.is(Atomics.load(cells, Cell.FINALLY), 1, 'the finally block ran');
  t.is(Atomics.load(cells, Cell.ENDED), 1, 'the atFiberEnd callback ran');
  // The waker the arm got, called after the cancel (on the same thread): nothing happens.
  t.is(await sched.run(wakeStray), 'called');
  t.is(await sched.run(whichGroup), 0, 'the group still runs tasks');
  t.is(Atomics.load(cells, Cell.ENDED), 1, 'the fiber did not finish a second time');
  t.is(Atomics.load(cells, Cell.UNDONE), 1);
  await until(() => sched.stats().groups[0].liveFibers === 0, 'no fiber left', 10_000);
});

test('park: a cancelled park whose arm gave no undo unwinds all the same', async (t) => {
  t.timeout(60_000);
  const { sched, cells } = await startWithCells(t, 0);
  const id = sched.spawn(parkForever, false);
  await until(() => Atomics.load(cells, Cell.READY) === 1, 'the fiber to park');
  sched.cancel(id);
  await t.throwsAsync(sched.join(id), { code: ErrorCode.CANCELLED });
  t.is(Atomics.load(cells, Cell.UNDONE), 0);
  t.is(Atomics.load(cells, Cell.FINALLY), 1);
  t.is(Atomics.load(cells, Cell.ENDED), 1);
  t.is(await sched.run(wakeStray), 'called');
  t.is(Atomics.load(cells, Cell.ENDED), 1);
});

test('park: an async fiber cancelled at `await park` gets E_CANCELLED there; its joiner gets E_CANCELLED even if it swallows it', async (t) => {
  t.timeout(60_000);
  const { sched, cells } = await startWithCells(t, 1);
  const id = sched.spawn(parkForeverAsync);
  await until(() => Atomics.load(cells, Cell.READY) === 1, 'the fiber to park');
  sched.cancel(id);
  await t.throwsAsync(sched.join(id), { code: ErrorCode.CANCELLED });
  t.is(Atomics.load(cells, Cell.CAUGHT), CAUGHT_CANCELLED, 'the await threw E_CANCELLED');
  t.is(Atomics.load(cells, Cell.UNDONE), 1);
  t.is(Atomics.load(cells, Cell.ENDED), 1);
  t.is(await sched.run(wakeStray), 'called');
  t.is(Atomics.load(cells, Cell.ENDED), 1);
});

test('outside a task: park rejects without arming, and the other functions are E_NOT_IN_FIBER', async (t) => {
  let armed = 0;
  const parking = park<number>(() => {
    armed++;
    return undefined;
  });
  await t.throwsAsync(async () => await parking, { code: ErrorCode.NOT_IN_FIBER });
  t.is(armed, 0);
  t.throws(() => atFiberEnd(() => {}), { code: ErrorCode.NOT_IN_FIBER, message: /atFiberEnd/ });
  t.throws(() => addGroupSource({ poll: () => false, pending: () => false }), {
    code: ErrorCode.NOT_IN_FIBER,
  });
  t.throws(() => installed('anything'), { code: ErrorCode.NOT_IN_FIBER, message: /anything/ });
  t.throws(() => groupIndex(), { code: ErrorCode.NOT_IN_FIBER });
});

// ---- atFiberEnd ----------------------------------------------------------------------------------

test('atFiberEnd: callbacks run newest first after the body, whether it returns or throws, before the joiner sees the result', async (t) => {
  t.timeout(60_000);
  const { sched, cells } = await startWithCells(t, 1);
  const reset = () => Atomics.store(cells, Cell.LOG_LENGTH, 0);
  t.is(await sched.run(endsWith, 'return', [1, 2, 3]), 'returned');
  t.deepEqual(readLog(cells), [0, 3, 2, 1]);
  reset();
  await t.throwsAsync(sched.run(endsWith, 'throw', [4, 5]), { message: 'the body threw' });
  t.deepEqual(readLog(cells), [0, 5, 4]);
  reset();
  t.is(await sched.run(endsAsync, [6, 7]), 'returned');
  t.deepEqual(readLog(cells), [0, 7, 6], 'async bodies too (registered after an await)');
  reset();
  t.is(await sched.run(endsPlain, 8), 'returned');
  t.deepEqual(readLog(cells), [8], 'plain bodies too');
  reset();
  t.deepEqual(await sched.run(endsWith, 'return', []), 'returned');
  t.deepEqual(readLog(cells), [0], 'no callbacks: nothing to run');
});

test('atFiberEnd: a fiber that joins the task sees its callbacks done', async (t) => {
  t.timeout(60_000);
  const { sched } = await startWithCells(t, 2);
  t.deepEqual(await sched.run(joinsEnding, [1, 2]), [0, 2, 1]);
});

test('atFiberEnd: a throwing callback becomes a process warning and the others still run', async (t) => {
  t.timeout(60_000);
  const { sched, cells } = await startWithCells(t, 0); // the group runs here: its warnings too
  const warnings = watchWarnings();
  t.is(await sched.run(endsWith, 'throw-callback', [1, 2, 3]), 'returned');
  t.deepEqual(readLog(cells), [0, 3, 1]);
  await delay(20); // warnings are emitted on the next tick
  const messages = warnings();
  t.is(messages.filter((m) => /atFiberEnd callback threw: callback 2 threw/.test(m)).length, 1);
});

// ---- group sources and groupLots -----------------------------------------------------------------

for (const workers of [0, 1]) {
  test(`addGroupSource: pending() alone keeps the group polling a source until it has handed out every item (workers: ${workers})`, async (t) => {
    t.timeout(60_000);
    const { sched } = await startWithCells(t, workers);
    // Its poll hands out one item per call and reports no work: without pending() the group
    // would park with items left, and the fiber waiting for the last one would never wake.
    const result = await sched.run(pendingSource, 1000);
    t.is(result.got, 1000);
    t.is(result.left, 0);
    t.true(result.polls >= 1000);
    t.is(await sched.run(pendingSource, 0).then((r) => r.got), 0, 'nothing to hand out');
  });
}

test('addGroupSource: a source fed by another thread through shared memory and groupLots resumes its parked fiber until every item is in', async (t) => {
  t.timeout(60_000);
  const { sched, cells } = await startWithCells(t, 2);
  const items = 3000;
  const id = sched.spawn(fedSource, items);
  await until(() => Atomics.load(cells, Cell.GROUP) !== 0, 'the source to be added');
  const group = Atomics.load(cells, Cell.GROUP) - 1;
  const lots = sched.groupLots;
  const lot = ParkingLot.attach(lots.buffer, lots.offsets[group]);
  for (let i = 1; i <= items; i++) {
    Atomics.add(cells, Cell.FED, 1);
    lot.signal();
    if (i % 100 === 0) await delay(1); // let the group go idle, and park, now and then
  }
  const result = await sched.join(id);
  t.is(result.taken, items);
  t.is(result.group, group);
  t.true(result.wakes >= 1, 'the fiber was resumed from the poll');
  t.log(`${result.wakes} wake-ups for ${items} items`);
});

test('groupLots: one lot per group, in a SharedArrayBuffer, that any thread can signal', async (t) => {
  t.timeout(60_000);
  const { sched } = await startWithCells(t, 3);
  const lots = sched.groupLots;
  t.true(lots.buffer instanceof SharedArrayBuffer);
  t.is(lots.offsets.length, 3);
  t.is(new Set(lots.offsets).size, 3);
  for (const offset of lots.offsets) {
    const lot = ParkingLot.attach(lots.buffer, offset);
    const before = lot.state();
    lot.signal();
    t.not(lot.state(), before, 'the signal is recorded');
  }
  t.is(await sched.run(whichGroup).then((g) => g >= 0 && g < 3), true, 'the groups run on');
  const structured = structuredClone(lots);
  t.is(structured.buffer.byteLength, lots.buffer.byteLength, 'plain, cloneable data');
  const local = await startWithCells(t, 0);
  t.is(local.sched.groupLots.offsets.length, 1, 'workers: 0 has one group');
});

test('spinMs: the group keeps polling for as long as a source asks before it parks', async (t) => {
  t.timeout(60_000);
  const { sched } = await startWithCells(t, 1);
  // The fiber parks until a timer of its thread fires; timers cannot run while the group spins,
  // so the park lasts at least the spin the source asked for.
  const spinMs = 150;
  const asked = await sched.run(spinThenPark, spinMs);
  t.true(asked.parked >= spinMs - 1, `parked ${asked.parked} ms`);
  t.true(asked.asked >= 1, 'the group asked its sources');
  const usual = await sched.run(spinThenPark, 0);
  t.log(
    `parked ${asked.parked.toFixed(1)} ms with spinMs ${spinMs}, ${usual.parked.toFixed(1)} ms with 0`,
  );
});

// Bad arguments: until() refuses what is not a promise with E_INVALID_ARGUMENT at the call; these
// do not check theirs.

test('park refuses an arm that is not a function (E_INVALID_ARGUMENT)', async (t) => {
  // Today: a plain TypeError ("arm is not a function") is thrown at the yield*.
  t.timeout(60_000);
  const { sched } = await startWithCells(t, 1);
  t.is(await sched.run(badArguments, 'park'), ErrorCode.INVALID_ARGUMENT);
});

test('atFiberEnd refuses a callback that is not a function (E_INVALID_ARGUMENT)', async (t) => {
  // Today it is accepted, and fails only at the fiber's end, as a process warning.
  t.timeout(60_000);
  const { sched } = await startWithCells(t, 1);
  t.is(await sched.run(badArguments, 'atFiberEnd'), ErrorCode.INVALID_ARGUMENT);
});

test('addGroupSource refuses what is not a source (E_INVALID_ARGUMENT) instead of breaking its group', async (t) => {
  // Today it is accepted; the group's loop then calls source.poll() and the TypeError kills the
  // worker (every fiber on it fails with E_WORKER_DIED). (Closed without waiting: close() during
  // the replacement of the dead worker never resolves, see below.)
  t.timeout(60_000);
  const sched = await startLoose(t, 1);
  t.is(await sched.run(badArguments, 'addGroupSource'), ErrorCode.INVALID_ARGUMENT);
  await delay(100);
  t.is(sched.stats().workerDeaths, 0);
});

// ---- install / installed -------------------------------------------------------------------------

test('install before tasks run: every worker sees the value (cloned)', async (t) => {
  t.timeout(90_000);
  const { sched } = await startWithCells(t, 2);
  const config = { mode: 'fast', list: [1, 2, 3], nested: new Map([['k', 'v']]) };
  await sched.install('config', config);
  const groups = new Set<number>();
  for (let round = 0; round < 10 && groups.size < 2; round++) {
    const seen = await sched.run(fanOutInstalled, 'config', 100);
    for (const [group, value] of seen) {
      groups.add(group);
      t.deepEqual(value, config);
    }
  }
  t.deepEqual([...groups].sort(), [0, 1], 'tasks ran on both workers');
  t.is(await sched.run(readInstalled, 'missing'), undefined, 'nothing installed: undefined');
  t.deepEqual(
    await sched.run(readInstalledAsync, 'config'),
    config,
    'async bodies, after an await',
  );
});

test('install after a task started: it sees the value once the install resolves; installing again replaces it', async (t) => {
  t.timeout(60_000);
  const { sched, cells } = await startWithCells(t, 1);
  const id = sched.spawn(awaitInstalled, 'late');
  await until(() => Atomics.load(cells, Cell.READY) === 1, 'the task to start');
  await sched.install('late', 'arrived');
  t.is(await sched.join(id), 'arrived');
  await sched.install('late', 'replaced');
  t.is(await sched.run(readInstalled, 'late'), 'replaced');
  await sched.install('late', undefined);
  t.is(await sched.run(readInstalled, 'late'), undefined);
});

test('install: SharedArrayBuffers stay shared with every worker', async (t) => {
  t.timeout(60_000);
  const { sched } = await startWithCells(t, 2);
  const counter = new SharedArrayBuffer(8);
  await sched.install('shared', { counter });
  const ids = Array.from({ length: 40 }, () => sched.spawn(bumpInstalled, 'shared'));
  const counts = await Promise.all(ids.map((id) => sched.join(id)));
  t.deepEqual(
    counts.sort((a, b) => a - b),
    Array.from({ length: 40 }, (_, i) => i + 1),
  );
  t.is(Atomics.load(new Int32Array(counter), 0), 40, 'the workers wrote this memory');
});

test('install with workers: 0: tasks on this thread see the value itself', async (t) => {
  t.timeout(60_000);
  const { sched } = await startWithCells(t, 0);
  const value = { here: true };
  await sched.install('local', value);
  t.deepEqual(await sched.run(readInstalled, 'local'), value);
  t.is(await sched.run(whichGroup), 0);
});

test('installed values belong to their scheduler: two on one thread keep theirs apart', async (t) => {
  t.timeout(60_000);
  const one = await startWithCells(t, 0);
  const two = await startWithCells(t, 0);
  await one.sched.install('who', 'one');
  await two.sched.install('who', 'two');
  t.is(await one.sched.run(readInstalled, 'who'), 'one');
  t.is(await two.sched.run(readInstalled, 'who'), 'two');
});

test('install: a name that is not a non-empty string is E_INVALID_ARGUMENT; after close, E_CLOSED', async (t) => {
  t.timeout(60_000);
  const { sched } = await startWithCells(t, 1);
  for (const name of ['', 42, undefined, null, {}]) {
    await t.throwsAsync(sched.install(name as never, 1), {
      code: ErrorCode.INVALID_ARGUMENT,
      instanceOf: TypeError,
    });
  }
  t.is(await sched.run(readInstalled, ''), undefined, 'nothing was installed');
  const closing = sched.close();
  await t.throwsAsync(sched.install('late', 1), { code: ErrorCode.CLOSED }, 'while closing');
  await closing;
  await t.throwsAsync(sched.install('late', 1), { code: ErrorCode.CLOSED });
});

test('install of a value that cannot be cloned is refused', async (t) => {
  // Today it resolves: worker.postMessage throws DataCloneError, and the catch calls gone(),
  // which resolves the promise before reject() is called.
  t.timeout(60_000);
  const { sched } = await startWithCells(t, 1);
  await t.throwsAsync(sched.install('fn', () => 1));
});

test('a refused install does not keep a dead worker from being replaced', async (t) => {
  // Today the value stays in the scheduler's extensions, so every replacement's start message
  // fails to clone ("could not replace worker 0"): the group is gone for good. (The scheduler is
  // closed without waiting: close() never resolves with a dead, unreplaced worker, see below.)
  t.timeout(60_000);
  const sched = await startLoose(t, 1);
  await sched.install('fn', () => 1).catch(() => {});
  await t.throwsAsync(sched.run(dies, 1), { code: ErrorCode.WORKER_DIED });
  await until(() => sched.stats().groups[0].alive, 'the replacement', 10_000);
  t.is(await sched.run(whichGroup), 0);
});

test('close() while a dead worker is being replaced resolves', async (t) => {
  // Today #close waits for the 'exit' event of every worker in #workers, which still holds the
  // dead worker until its replacement has booted: that event has already fired, so close() never
  // resolves (and #replace, seeing the scheduler closing, terminates the new worker).
  t.timeout(60_000);
  const sched = await startLoose(t, 1);
  let closing: Promise<void> | undefined;
  sched.onWorkerDeath(() => {
    closing = sched.close();
  });
  await t.throwsAsync(sched.run(dies, 1), { code: ErrorCode.WORKER_DIED });
  t.not(closing, undefined);
  const outcome = await Promise.race([
    closing?.then(() => 'closed'),
    delay(10_000).then(() => 'still closing'),
  ]);
  t.is(outcome, 'closed');
});

test('an install still waiting for a worker when close ends it settles', async (t) => {
  // Today close() removes every 'exit' listener of the workers, the install's included: an
  // install whose worker never answered (it was busy, then terminated) never settles.
  t.timeout(60_000);
  const { sched, cells } = await startWithCells(t, 1);
  sched.spawn(blocksWorker, 20_000);
  await until(() => Atomics.load(cells, Cell.READY) === 1, 'the worker to be busy');
  const installing = sched.install('late', 'value');
  await sched.close({ drain: false, timeoutMs: 200 });
  const outcome = await Promise.race([
    installing.then(
      () => 'resolved',
      (error: WeftError) => error.code,
    ),
    delay(3000).then(() => 'still pending'),
  ]);
  t.not(outcome, 'still pending');
});

// ---- onWorkerDeath -------------------------------------------------------------------------------

test('onWorkerDeath: called once with the group and the cause, before the replacement starts; the replacement sees installed values', async (t) => {
  t.timeout(90_000);
  const { sched, cells } = await startWithCells(t, 1);
  const counter = new SharedArrayBuffer(8);
  await sched.install('shared', { counter });
  const deaths: { group: number; cause: string; alive: boolean; deaths: number }[] = [];
  const off = sched.onWorkerDeath((group, cause) => {
    const stats = sched.stats();
    deaths.push({ group, cause, alive: stats.groups[group].alive, deaths: stats.workerDeaths });
    // Installed while the group is being replaced: its replacement must get it too.
    void sched.install('during', 'the replacement has it');
  });
  const removed: number[] = [];
  const offRemoved = sched.onWorkerDeath((group) => removed.push(group));
  offRemoved();
  offRemoved(); // harmless
  const offThrowing = sched.onWorkerDeath(() => {
    throw new Error('listener failed');
  });
  const warnings = watchWarnings();
  await t.throwsAsync(sched.run(dies, 1), {
    code: ErrorCode.WORKER_DIED,
    message: /it exited with code 1/,
  });
  t.deepEqual(deaths, [
    {
      group: Atomics.load(cells, Cell.DIED_ON) - 1,
      cause: 'it exited with code 1',
      alive: false,
      deaths: 1,
    },
  ]);
  t.deepEqual(removed, [], 'an unsubscribed listener is not called');
  // The replacement worker: the values installed before the death, and during it.
  t.is(await sched.run(bumpInstalled, 'shared'), 1);
  t.is(Atomics.load(new Int32Array(counter), 0), 1, 'still shared with the replacement');
  t.is(await sched.run(readInstalled, 'during'), 'the replacement has it');
  await sched.install('after', 'later still');
  t.is(await sched.run(readInstalled, 'after'), 'later still');
  await delay(20);
  t.true(warnings().some((m) => /onWorkerDeath listener threw: listener failed/.test(m)));
  t.is(deaths.length, 1, 'called once');
  off();
  offThrowing();
  t.is(sched.stats().workerDeaths, 1);
});

test('onWorkerDeath: on a scheduler of two workers, only the dead group is reported', async (t) => {
  t.timeout(90_000);
  const { sched, cells } = await startWithCells(t, 2);
  await sched.install('shared', { counter: new SharedArrayBuffer(8) });
  const deaths: [number, string][] = [];
  sched.onWorkerDeath((group, cause) => deaths.push([group, cause]));
  await t.throwsAsync(sched.run(dies, 7), { code: ErrorCode.WORKER_DIED });
  const group = Atomics.load(cells, Cell.DIED_ON) - 1;
  t.deepEqual(deaths, [[group, 'it exited with code 7']]);
  await until(() => sched.stats().groups[group].alive, 'the replacement', 30_000);
  const counts = await Promise.all(
    Array.from({ length: 20 }, () => sched.run(bumpInstalled, 'shared')),
  );
  t.is(Math.max(...counts), 20, 'every task saw the installed SharedArrayBuffer');
});

// ---- Notifier ------------------------------------------------------------------------------------

test('Notifier: a notify from this thread wakes fibers waiting on every group, generator and async', async (t) => {
  t.timeout(60_000);
  const { sched, cells } = await startWithCells(t, 2);
  const notifier = Notifier.create(sched);
  const seen = notifier.sequence;
  const ids = [
    ...Array.from({ length: 4 }, () => sched.spawn(waitNotifier, notifier, seen)),
    ...Array.from({ length: 2 }, () => sched.spawn(waitNotifierAsync, notifier, seen)),
  ];
  await until(() => Atomics.load(cells, Cell.READY) === 6, 'the waiters to start');
  await delay(20); // (most likely parked by now; a notify before the park is not lost either)
  notifier.notify();
  t.deepEqual(await Promise.all(ids.map((id) => sched.join(id))), [
    true,
    true,
    true,
    true,
    true,
    true,
  ]);
  t.is(notifier.sequence, seen + 1);
  notifier.destroy();
});

test('Notifier: a notify from a fiber wakes this thread', async (t) => {
  t.timeout(60_000);
  const { sched } = await startWithCells(t, 1);
  const notifier = Notifier.create(sched);
  for (let round = 0; round < 5; round++) {
    const seen = notifier.sequence;
    const woken = (async () => await notifier.wait(seen))();
    t.is(await sched.run(notifyIt, notifier), seen + 1);
    t.true(await woken);
  }
  notifier.destroy();
});

for (const workers of [0, 1]) {
  test(`Notifier: a stale seen returns true at once; a timeout returns false (workers: ${workers})`, async (t) => {
    t.timeout(60_000);
    const { sched } = await startWithCells(t, workers);
    const notifier = Notifier.create(sched);
    notifier.notify();
    const now = notifier.sequence;
    t.true(await notifier.wait(now - 1), 'this thread, stale');
    t.false(await notifier.wait(now, { timeout: 10 }), 'this thread, timed out');
    t.true(await sched.run(waitNotifier, notifier, now + 3), 'a fiber, stale');
    t.false(await sched.run(waitNotifier, notifier, now, 10), 'a fiber, timed out');
    t.true(await sched.run(waitNotifierAsync, notifier, now - 2), 'an async fiber, stale');
    t.false(await sched.run(waitNotifierAsync, notifier, now, 0), 'an async fiber, timeout 0');
    t.is(notifier.sequence, now, 'waits do not change the sequence');
    await t.throwsAsync(async () => await notifier.wait(now, { timeout: -1 }), {
      code: ErrorCode.OUT_OF_RANGE,
    });
    await t.throwsAsync(sched.run(waitNotifier, notifier, now, -1), {
      code: ErrorCode.OUT_OF_RANGE,
    });
    notifier.destroy();
  });
}

test('Notifier: attach by id on any thread, create inside a task, pass as an argument', async (t) => {
  t.timeout(60_000);
  const { sched } = await startWithCells(t, 2);
  const notifier = Notifier.create(sched);
  const same = Notifier.attach(notifier.id, sched);
  same.notify();
  t.is(notifier.sequence, 1);
  t.is(await sched.run(notifyById, notifier.id), 2, 'attached inside a task by its id');
  t.is(await sched.run(notifyIt, same), 3);
  const made = await sched.run(makeNotifier);
  t.true(made instanceof Notifier, 'a notifier made in a task arrives as a Notifier');
  const seen = made.sequence;
  const woken = (async () => await made.wait(seen))();
  t.is(await sched.run(notifyIt, made), seen + 1);
  t.true(await woken);
  made.destroy();
  notifier.destroy();
});

test('Notifier: destroyed, every use is E_STALE_ID, on this thread and in tasks', async (t) => {
  t.timeout(60_000);
  const { sched } = await startWithCells(t, 1);
  const notifier = Notifier.create(sched);
  const attached = Notifier.attach(notifier.id, sched);
  t.is(await sched.run(useNotifier, notifier), 'ok');
  notifier.destroy();
  t.throws(() => notifier.sequence, { code: ErrorCode.STALE_ID });
  t.throws(() => notifier.notify(), { code: ErrorCode.STALE_ID });
  await t.throwsAsync(async () => await notifier.wait(0), { code: ErrorCode.STALE_ID });
  t.throws(() => attached.notify(), { code: ErrorCode.STALE_ID });
  t.throws(() => Notifier.attach(notifier.id, sched).sequence, { code: ErrorCode.STALE_ID });
  t.is(await sched.run(useNotifier, notifier), ErrorCode.STALE_ID);
  // Its butex may go to a new notifier: the old id stays stale.
  const next = Notifier.create(sched);
  t.throws(() => notifier.notify(), { code: ErrorCode.STALE_ID });
  next.destroy();
});

test('Notifier: bad input', async (t) => {
  t.timeout(60_000);
  const { sched } = await startWithCells(t, 0);
  t.throws(() => Notifier.create(), { code: ErrorCode.NOT_IN_FIBER });
  t.throws(() => Notifier.create({}), { code: ErrorCode.INVALID_ARGUMENT });
  t.throws(() => Notifier.attach(0), { code: ErrorCode.NOT_IN_FIBER });
  t.throws(() => Notifier.attach(-1, sched), { code: ErrorCode.OUT_OF_RANGE });
  t.throws(() => Notifier.attach(1.5, sched), { code: ErrorCode.OUT_OF_RANGE });
  t.throws(() => Notifier.attach('7' as never, sched), { code: ErrorCode.INVALID_ARGUMENT });
  t.throws(() => Notifier.attach(2 ** 40 + 3, sched).notify(), { code: ErrorCode.STALE_ID });
});
