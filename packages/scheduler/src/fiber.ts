/**
 * Fiber: a started task, pinned to the group that started it.
 *
 * JavaScript cannot move a suspended generator or async function to another thread, so once a
 * group starts a task, the task's fiber lives on that group until it finishes. A fiber is small:
 * its task slot and id, its body (a generator, or the settle functions of the effect an async
 * body awaits), the value it will resume with, and what it is parked on, so that a timeout or a
 * cancel can undo the wait.
 *
 * Which fiber is running: a group sets `running` while it steps a generator or calls a plain
 * body; an async body's continuations run later, from microtasks, so async fibers are found
 * through an AsyncLocalStorage set when the body starts (it follows the fiber across awaits).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { ErrorCode, WeftError } from '@weft/shm';
import type { EffectHost } from './effects.ts';
import type { TaskKind } from './task-registry.ts';

/** How the next step resumes a generator: with a value, an error, or unwinding (cancel). */
export const Resume = {
  NEXT: 0,
  THROW: 1,
  RETURN: 2,
} as const;

/** What a parked fiber waits for; `undo` takes it out of whatever list or timer holds it. */
export interface Wait {
  undo(): void;
}

export class Fiber {
  /** The group this fiber is pinned to. */
  readonly host: EffectHost;
  /** Task slot (index into the TaskTable). */
  readonly slot: number;
  /** TaskId. */
  readonly id: number;
  readonly kind: TaskKind;
  /** The generator, for generator bodies. */
  gen: Generator<unknown, unknown, unknown> | undefined = undefined;
  /** What the next step passes in: a value, an error to throw, or nothing (return). */
  input: unknown = undefined;
  mode: number = Resume.NEXT;
  /** For async bodies: the settle functions of the effect being awaited. */
  settle: ((value: unknown) => void) | undefined = undefined;
  fail: ((error: unknown) => void) | undefined = undefined;
  /** What the fiber is parked on, if it is parked. */
  wait: Wait | undefined = undefined;
  /** A cancel was requested: unwind at the next yield point. */
  cancelRequested = false;
  /** The fiber is unwinding because of a cancel; its result will be E_CANCELLED. */
  cancelled = false;
  /** Callbacks to run when the fiber ends (atFiberEnd), in the order added. */
  atEnd: (() => void)[] | undefined = undefined;

  constructor(host: EffectHost, slot: number, id: number, kind: TaskKind) {
    this.host = host;
    this.slot = slot;
    this.id = id;
    this.kind = kind;
  }
}

/** The fiber a group is stepping right now (generator or plain bodies). */
let running: Fiber | undefined;

/** Async bodies carry their fiber across awaits. */
export const asyncFiber = new AsyncLocalStorage<Fiber>();

/** Sets the running fiber and returns the previous one (steps can nest: spawnUrgent). */
export function enterFiber(fiber: Fiber | undefined): Fiber | undefined {
  const previous = running;
  running = fiber;
  return previous;
}

/** The fiber this code runs in, or undefined outside any fiber. */
export function currentFiber(): Fiber | undefined {
  return running ?? asyncFiber.getStore();
}

/** The running fiber; E_NOT_IN_FIBER outside one. */
export function requireFiber(what: string): Fiber {
  const fiber = currentFiber();
  if (fiber === undefined) {
    throw new WeftError(
      ErrorCode.NOT_IN_FIBER,
      `${what} works only inside a task; from other code use the Scheduler's methods`,
    );
  }
  return fiber;
}
