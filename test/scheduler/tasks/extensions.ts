// Tasks that use the extension API: park, atFiberEnd, group sources, installed values, Notifier.
// What they report outside their result goes to the Int32Array over the scheduler's data.cells.
import {
  addGroupSource,
  atFiberEnd,
  groupIndex,
  installed,
  join,
  Notifier,
  park,
  schedulerData,
  sleep,
  spawn,
  type TaskId,
  task,
  type Waker,
} from '@weft/scheduler';

/** Cells of the shared Int32Array (data.cells, 64 cells). */
export const Cell = {
  /** Set (or counted) once a fiber is about to park. */
  READY: 0,
  /** Undo functions called. */
  UNDONE: 1,
  /** `finally` blocks run. */
  FINALLY: 2,
  /** atFiberEnd callbacks run by parkForever. */
  ENDED: 3,
  /** Items fed to fedSource by another thread. */
  FED: 4,
  /** groupIndex() + 1 of the fiber that reads FED (0: not started yet). */
  GROUP: 5,
  /** groupIndex() + 1 of the worker a dies task killed. */
  DIED_ON: 6,
  /** What an async fiber caught at its park, as an error-code number (see CAUGHT_CANCELLED). */
  CAUGHT: 7,
  /** A blocksWorker task waits for this cell to change. */
  BLOCK: 8,
  /** Entries in the log. */
  LOG_LENGTH: 9,
  /** The log's first entry (up to 40 entries). */
  LOG: 10,
} as const;

export const CELLS_BYTES = 64 * 4;
export const CAUGHT_CANCELLED = 1;

export const cells = () => new Int32Array(schedulerData<{ cells: SharedArrayBuffer }>().cells);

/** Appends `tag` to the log in the shared cells. */
export function log(tag: number): void {
  const c = cells();
  const at = Atomics.add(c, Cell.LOG_LENGTH, 1);
  Atomics.store(c, Cell.LOG + at, tag);
}

/** The log's entries, in order. */
export function readLog(c: Int32Array): number[] {
  return [...c.subarray(Cell.LOG, Cell.LOG + Atomics.load(c, Cell.LOG_LENGTH))];
}

// ---- park ----

type Outcome<T> = { value?: T; error?: string; armed: number; undone: number };

/** Parks with an arm that settles at once: 'resume', 'fail', 'twice' (resume, resume, fail), 'throw'. */
export const parkNow = task('extParkNow', function* (how: string) {
  let armed = 0;
  let undone = 0;
  try {
    const value = yield* park<string>((waker) => {
      armed++;
      if (how === 'resume') waker.resume('now');
      else if (how === 'fail') waker.fail(new Error('failed at once'));
      else if (how === 'twice') {
        waker.resume('first');
        waker.resume('second');
        waker.fail(new Error('too late'));
      } else if (how === 'throw') throw new Error('arm threw');
      return () => {
        undone++;
      };
    });
    return { value, armed, undone } satisfies Outcome<string>;
  } catch (error) {
    return { error: (error as Error).message, armed, undone } satisfies Outcome<string>;
  }
});

/** The same as parkNow, in an async body (`await park(...)`). */
export const parkNowAsync = task('extParkNowAsync', async (how: string) => {
  let armed = 0;
  try {
    const value = await park<string>((waker) => {
      armed++;
      if (how === 'resume') waker.resume('now');
      else if (how === 'fail') waker.fail(new Error('failed at once'));
      else if (how === 'throw') throw new Error('arm threw');
      return undefined;
    });
    return { value, armed, undone: 0 } satisfies Outcome<string>;
  } catch (error) {
    return { error: (error as Error).message, armed, undone: 0 } satisfies Outcome<string>;
  }
});

// Settles a waker later on this thread: from a timer, an immediate or a microtask.
function later(via: string, settle: () => void): () => void {
  if (via === 'timeout') {
    const timer = setTimeout(settle, 2);
    return () => clearTimeout(timer);
  }
  if (via === 'immediate') {
    const immediate = setImmediate(settle);
    return () => clearImmediate(immediate);
  }
  queueMicrotask(settle);
  return () => {};
}

/** Parks; the waker is called later (`via` timeout, immediate or microtask) to resume or fail. */
export const parkLater = task('extParkLater', function* (via: string, fail: boolean) {
  let armed = 0;
  try {
    const value = yield* park<string>((waker) => {
      armed++;
      return later(via, () =>
        fail ? waker.fail(new RangeError(`failed via ${via}`)) : waker.resume(`resumed via ${via}`),
      );
    });
    return { value, armed };
  } catch (error) {
    return { error: `${(error as Error).name}: ${(error as Error).message}`, armed };
  }
});

export const parkLaterAsync = task('extParkLaterAsync', async (via: string, fail: boolean) => {
  try {
    const value = await park<string>((waker) =>
      later(via, () =>
        fail ? waker.fail(new RangeError(`failed via ${via}`)) : waker.resume(`resumed via ${via}`),
      ),
    );
    return { value };
  } catch (error) {
    return { error: `${(error as Error).name}: ${(error as Error).message}` };
  }
});

const parkOne = task('extParkOne', function* (i: number) {
  return yield* park<number>((waker) => {
    const immediate = setImmediate(() => waker.resume(i * 2));
    return () => clearImmediate(immediate);
  });
});

/** Spawns `count` fibers that park at once, each resumed later with its own value; sums them. */
export const parkMany = task('extParkMany', function* (count: number) {
  const ids: TaskId<number>[] = [];
  for (let i = 0; i < count; i++) ids.push(yield* spawn(parkOne, i));
  let sum = 0;
  for (const id of ids) sum += yield* join(id);
  return sum;
});

// The waker of the last parkForever fiber on this thread, kept to call it after the cancel.
let stray: Waker<string> | undefined;

/**
 * Parks until cancelled: READY once armed, UNDONE when its undo runs, FINALLY when its finally
 * runs, ENDED when its atFiberEnd callback runs. `withUndo` false: the arm returns no undo.
 */
export const parkForever = task('extParkForever', function* (withUndo: boolean) {
  const c = cells();
  atFiberEnd(() => Atomics.add(c, Cell.ENDED, 1));
  try {
    return yield* park<string>((waker) => {
      stray = waker;
      Atomics.store(c, Cell.READY, 1);
      return withUndo ? () => void Atomics.add(c, Cell.UNDONE, 1) : undefined;
    });
  } finally {
    Atomics.add(c, Cell.FINALLY, 1);
  }
});

/** The async parkForever: it catches the cancel at its await and returns as if nothing happened. */
export const parkForeverAsync = task('extParkForeverAsync', async () => {
  const c = cells();
  atFiberEnd(() => Atomics.add(c, Cell.ENDED, 1));
  try {
    await park<string>((waker) => {
      stray = waker;
      Atomics.store(c, Cell.READY, 1);
      return () => void Atomics.add(c, Cell.UNDONE, 1);
    });
  } catch (error) {
    if ((error as { code?: string }).code === 'E_CANCELLED') {
      Atomics.store(c, Cell.CAUGHT, CAUGHT_CANCELLED);
    }
  }
  return 'swallowed the cancel';
});

/** Calls the kept waker of a cancelled parkForever fiber (on the same thread): it must do nothing. */
export const wakeStray = task('extWakeStray', () => {
  if (stray === undefined) return 'no waker here';
  stray.resume('too late');
  stray.fail(new Error('too late'));
  stray = undefined;
  return 'called';
});

// ---- atFiberEnd ----

/** Registers callbacks logging `tags` in order, then ends: 'return', 'throw' or 'throw-callback'. */
export const endsWith = task('extEndsWith', function* (how: string, tags: number[]) {
  for (const [i, tag] of tags.entries()) {
    if (how === 'throw-callback' && i === 1) {
      atFiberEnd(() => {
        throw new Error(`callback ${tag} threw`);
      });
    } else {
      atFiberEnd(() => log(tag));
    }
  }
  log(0); // the body's own last word: callbacks come after it
  if (how === 'throw') throw new Error('the body threw');
  return 'returned';
});

export const endsAsync = task('extEndsAsync', async (tags: number[]) => {
  await new Promise((resolve) => setTimeout(resolve, 1));
  for (const tag of tags) atFiberEnd(() => log(tag));
  await sleep(1);
  log(0);
  return 'returned';
});

export const endsPlain = task('extEndsPlain', (tag: number) => {
  atFiberEnd(() => log(tag));
  return 'returned';
});

/** Joins a child that registers callbacks: the log the parent reads right after the join. */
export const joinsEnding = task('extJoinsEnding', function* (tags: number[]) {
  const child = yield* spawn(endsWith, 'return', tags);
  yield* join(child);
  return readLog(cells());
});

// ---- group sources ----

/**
 * A source that hands out one item per poll and reports no work: only its pending() keeps the
 * group from parking. The fiber parks until the last item is handed out.
 */
export const pendingSource = task('extPendingSource', function* (items: number) {
  let left = items;
  let polls = 0;
  let waker: Waker<number> | undefined;
  addGroupSource({
    poll() {
      polls++;
      if (left === 0) return false;
      left--;
      if (left === 0 && waker !== undefined) {
        const resume = waker;
        waker = undefined;
        resume.resume(items);
      }
      return false;
    },
    pending: () => left > 0,
  });
  const got = yield* park<number>((w) => {
    if (left === 0) w.resume(items);
    else waker = w;
    return () => {
      waker = undefined;
    };
  });
  return { got, left, polls };
});

/**
 * Waits for `expected` items that another thread feeds by adding to cell FED and signalling this
 * group's lot; the fiber parks between items and its source's poll resumes it.
 */
export const fedSource = task('extFedSource', function* (expected: number) {
  const c = cells();
  let taken = 0;
  let wakes = 0;
  let waker: Waker<void> | undefined;
  addGroupSource({
    poll() {
      const fed = Atomics.load(c, Cell.FED);
      if (fed === taken) return false;
      taken = fed;
      if (waker !== undefined) {
        const resume = waker;
        waker = undefined;
        wakes++;
        resume.resume(undefined);
      }
      return true;
    },
    pending: () => Atomics.load(c, Cell.FED) !== taken,
  });
  Atomics.store(c, Cell.GROUP, groupIndex() + 1);
  while (taken < expected) {
    yield* park<void>((w) => {
      waker = w;
      return () => {
        waker = undefined;
      };
    });
  }
  return { taken, wakes, group: groupIndex() };
});

/**
 * Parks until a timer of this thread resumes it, with a source that asks for `spinMs` of spin:
 * the group spins (the event loop does not turn) for that long before it parks and the timer
 * fires. Returns the time parked and how often the group asked the source.
 */
export const spinThenPark = task('extSpinThenPark', function* (spinMs: number) {
  let asking = true;
  let asked = 0;
  addGroupSource({
    poll: () => false,
    pending: () => false,
    spinMs: () => {
      asked++;
      return asking ? spinMs : 0;
    },
  });
  const start = performance.now();
  yield* park<void>((waker) => {
    const timer = setTimeout(() => waker.resume(undefined), 0);
    return () => clearTimeout(timer);
  });
  const parked = performance.now() - start;
  asking = false;
  return { parked, asked };
});

/** Bad arguments to the extension functions: the error code each throws, or 'none'. */
export const badArguments = task('extBadArguments', function* (which: string) {
  const codeOf = (error: unknown) => (error as { code?: string }).code ?? String(error);
  try {
    if (which === 'park') yield* park(42 as never);
    else if (which === 'atFiberEnd') atFiberEnd(42 as never);
    else if (which === 'addGroupSource') addGroupSource({} as never);
    return 'none';
  } catch (error) {
    return codeOf(error);
  }
});

// ---- installed values ----

export const readInstalled = task('extReadInstalled', (name: string) => installed(name));

/** Reads `name` in an async body, after an await (the fiber is found across awaits). */
export const readInstalledAsync = task('extReadInstalledAsync', async (name: string) => {
  await new Promise((resolve) => setTimeout(resolve, 1));
  return installed(name);
});

/** Burns `ms` of CPU, then reports its group and what it sees installed under `name`. */
export const whereInstalled = task('extWhereInstalled', (name: string, ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
  return [groupIndex(), installed(name)] as [number, unknown];
});

export const fanOutInstalled = task('extFanOutInstalled', function* (name: string, count: number) {
  const ids: TaskId<[number, unknown]>[] = [];
  for (let i = 0; i < count; i++) ids.push(yield* spawn(whereInstalled, name, 0.5));
  const seen: [number, unknown][] = [];
  for (const id of ids) seen.push(yield* join(id));
  return seen;
});

/** Started before `name` is installed: sleeps until it appears, and returns it. */
export const awaitInstalled = task('extAwaitInstalled', function* (name: string) {
  Atomics.store(cells(), Cell.READY, 1);
  while (installed(name) === undefined) yield* sleep(2);
  return installed(name);
});

/** Adds 1 to cell 0 of the SharedArrayBuffer installed under `name`; returns the new count. */
export const bumpInstalled = task('extBumpInstalled', (name: string) => {
  const shared = installed<{ counter: SharedArrayBuffer }>(name);
  if (shared === undefined) return -1;
  return Atomics.add(new Int32Array(shared.counter), 0, 1) + 1;
});

export const whichGroup = task('extWhichGroup', () => groupIndex());

/** Sets READY, then blocks its worker thread (Atomics.wait) for up to `ms`, or until BLOCK changes. */
export const blocksWorker = task('extBlocksWorker', (ms: number) => {
  const c = cells();
  Atomics.store(c, Cell.READY, 1);
  Atomics.wait(c, Cell.BLOCK, 0, ms);
  return 'unblocked';
});

/** Records its group in DIED_ON, then ends its worker with `process.exit(code)`. */
export const dies = task('extDies', (code: number) => {
  Atomics.store(cells(), Cell.DIED_ON, groupIndex() + 1);
  process.exit(code);
});

// ---- Notifier ----

/** Counts itself in READY, then waits on `notifier` for a sequence other than `seen`. */
export const waitNotifier = task(
  'extWaitNotifier',
  function* (notifier: Notifier, seen: number, timeout?: number) {
    Atomics.add(cells(), Cell.READY, 1);
    return yield* notifier.wait(seen, timeout === undefined ? undefined : { timeout });
  },
);

export const waitNotifierAsync = task(
  'extWaitNotifierAsync',
  async (notifier: Notifier, seen: number, timeout?: number) => {
    Atomics.add(cells(), Cell.READY, 1);
    return await notifier.wait(seen, timeout === undefined ? undefined : { timeout });
  },
);

/** Notifies; returns the sequence after. */
export const notifyIt = task('extNotifyIt', (notifier: Notifier) => {
  notifier.notify();
  return notifier.sequence;
});

/** Notifies the notifier `id` names, attached on this thread. */
export const notifyById = task('extNotifyById', (id: number) => {
  const notifier = Notifier.attach(id);
  notifier.notify();
  return notifier.sequence;
});

/** A notifier made inside a task, handed back as the result. */
export const makeNotifier = task('extMakeNotifier', () => Notifier.create());

/** Uses a notifier that may have been destroyed: the error code, or 'ok'. */
export const useNotifier = task('extUseNotifier', function* (notifier: Notifier) {
  try {
    notifier.notify();
    yield* notifier.wait(notifier.sequence, { timeout: 1 });
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code;
  }
});
