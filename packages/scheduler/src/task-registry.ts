/**
 * Task registry: task functions travel between threads as small integers, never as closures.
 *
 * A task module calls `task(name, fn)` at import time. Every worker imports the same task modules
 * at boot, so every thread ends up with the same names registered, each bound to its own copy of
 * the function. The catalog sorts the names and numbers them: that number (the fnId) is what a
 * task slot in shared memory records, and each thread maps it back to its own function. At start
 * the scheduler checks that every worker registered exactly the same names (a mismatch means the
 * workers run different code, which would silently run the wrong function).
 *
 * The reference `task()` returns is typed with the function's arguments and result, so
 * `spawn(fib, 30)` checks the arguments and `join` knows what it gets back.
 */
import { ErrorCode, WeftError, WeftTypeError } from '@weft/shm';

/** How a task body runs: a generator (the fast path), an async function, or a plain function. */
export type TaskKind = 'generator' | 'async' | 'plain';

const brand = Symbol.for('weft.task');

// `any[]` in the defaults below is deliberate: a function's parameters are contravariant, so a
// task taking (n: number) is not a function of `unknown[]`, and `TaskRef` with no type arguments
// must accept every task.

/** A registered task function, usable with `spawn`, `join` and `Scheduler.run`. */
// biome-ignore lint/suspicious/noExplicitAny: see above.
export interface TaskRef<A extends unknown[] = any[], R = unknown> {
  readonly name: string;
  readonly kind: TaskKind;
  readonly fn: (...args: A) => unknown;
  /** Type-only: the result the task produces. */
  readonly __result?: R;
}

/** The arguments a task reference takes. */
export type TaskArgs<T> = T extends TaskRef<infer A, unknown> ? A : never;
/** The result a task reference produces. */
// biome-ignore lint/suspicious/noExplicitAny: see above.
export type TaskResult<T> = T extends TaskRef<any[], infer R> ? R : never;

// This thread's registrations, by name.
const registry = new Map<string, TaskRef>();

function kindOf(name: string, fn: unknown): TaskKind {
  if (typeof fn !== 'function') {
    throw new WeftTypeError(
      ErrorCode.INVALID_ARGUMENT,
      `task "${name}" needs a function (generator, async or plain), got ${typeof fn}`,
    );
  }
  switch (fn.constructor.name) {
    case 'GeneratorFunction':
      return 'generator';
    case 'AsyncFunction':
      return 'async';
    case 'AsyncGeneratorFunction':
      throw new WeftTypeError(
        ErrorCode.INVALID_ARGUMENT,
        `task "${name}" is an async generator; use a generator function (yield* effects) or an async function`,
      );
    default:
      return 'plain';
  }
}

/** Registers a generator task: `yield*` effects inside, no promise per step. */
export function task<A extends unknown[], R>(
  name: string,
  // biome-ignore lint/suspicious/noExplicitAny: a fiber's generator resumes with any effect's result.
  fn: (...args: A) => Generator<unknown, R, any>,
): TaskRef<A, R>;
/** Registers an async task: each `await` parks the fiber. */
export function task<A extends unknown[], R>(
  name: string,
  fn: (...args: A) => Promise<R>,
): TaskRef<A, R>;
/** Registers a plain task: it runs to completion when started. */
export function task<A extends unknown[], R>(name: string, fn: (...args: A) => R): TaskRef<A, R>;
// biome-ignore lint/suspicious/noExplicitAny: the implementation accepts every overload.
export function task(name: string, fn: (...args: any[]) => unknown): TaskRef {
  if (typeof name !== 'string' || name.length === 0) {
    throw new WeftTypeError(
      ErrorCode.INVALID_ARGUMENT,
      `a task name must be a non-empty string, got ${typeof name === 'string' ? '""' : typeof name}`,
    );
  }
  const kind = kindOf(name, fn);
  const existing = registry.get(name);
  if (existing !== undefined && existing.fn !== fn) {
    throw new WeftTypeError(
      ErrorCode.INVALID_ARGUMENT,
      `task "${name}" is already registered with another function; task names must be unique`,
    );
  }
  const ref: TaskRef = existing ?? Object.freeze({ name, kind, fn, [brand]: true });
  registry.set(name, ref);
  return ref;
}

/** True for a reference made by `task()` (in any copy of this module). */
export function isTaskRef(value: unknown): value is TaskRef {
  return typeof value === 'object' && value !== null && brand in value;
}

/** The names registered on this thread, sorted: what a worker reports at boot. */
export function registeredNames(): string[] {
  return [...registry.keys()].sort();
}

/**
 * The numbering of task functions shared by every thread of one scheduler: fnId = index in the
 * sorted name list. `functionOf` is available only on threads that registered the functions.
 */
export class TaskCatalog {
  readonly names: readonly string[];
  readonly #ids: Map<string, number>;
  readonly #refs: (TaskRef | undefined)[];

  constructor(names: readonly string[]) {
    this.names = names;
    this.#ids = new Map(names.map((name, id) => [name, id]));
    this.#refs = names.map((name) => registry.get(name));
  }

  /** The fnId of a task reference; E_UNKNOWN_TASK if the workers did not register it. */
  idOf(ref: unknown): number {
    if (!isTaskRef(ref)) {
      throw new WeftTypeError(
        ErrorCode.INVALID_ARGUMENT,
        'expected a task reference returned by task(name, fn)',
      );
    }
    const id = this.#ids.get(ref.name);
    if (id === undefined) {
      throw new WeftError(
        ErrorCode.UNKNOWN_TASK,
        `unknown task "${ref.name}": the workers registered ${this.names.length} tasks ` +
          `(${this.names.slice(0, 8).join(', ')}${this.names.length > 8 ? ', …' : ''}); ` +
          "add the module that registers it to the scheduler's `tasks` option",
      );
    }
    return id;
  }

  /** This thread's registration of task `fnId`. */
  refOf(fnId: number): TaskRef {
    const ref = this.#refs[fnId];
    if (ref === undefined) {
      throw new WeftError(
        ErrorCode.UNKNOWN_TASK,
        `task "${this.names[fnId]}" is not registered on this thread`,
      );
    }
    return ref;
  }
}
