/**
 * The entry point of a group's worker thread.
 *
 * Boot, in two messages: the worker imports the task modules and reports the task names it
 * registered; the scheduler checks that every worker reported the same names, then sends the
 * shared buffer and the catalog, and the worker runs its TaskGroup. From then on everything goes
 * through shared memory: the group parks on its lot, and leaves its loop when the lot is stopped.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ControlBlock, type ControlSizes } from './control-block.ts';
import { setInstalled } from './extensions.ts';
import { setWorkerSchedulerData } from './scheduler-data.ts';
import { reviveSyncPrimitives } from './sync.ts';
import { type GroupOptions, TaskGroup } from './task-group.ts';
import { registeredNames, TaskCatalog } from './task-registry.ts';

/** What the scheduler passes in `workerData`. */
export interface GroupWorkerData {
  index: number;
  taskModules: string[];
  data: unknown;
}

/** The scheduler's second message: the shared state to run on, and the timer service. */
export interface GroupStart {
  buffer: SharedArrayBuffer;
  sizes: ControlSizes;
  names: string[];
  timers: GroupOptions['timers'];
  /** What the scheduler installed so far (Scheduler.install), by name. */
  extensions: [string, unknown][];
}

/** A later message: install a value (Scheduler.install); the worker answers `installed`. */
export interface InstallMessage {
  type: 'install';
  name: string;
  value: unknown;
}

/** What a worker reports after importing its task modules. */
export type BootReport =
  | { type: 'registered'; names: string[] }
  | { type: 'boot-error'; message: string; stack: string | undefined };

const port = parentPort!;
const { index, taskModules, data } = workerData as GroupWorkerData;
setWorkerSchedulerData(data);

try {
  for (const url of taskModules) await import(url);
  port.postMessage({ type: 'registered', names: registeredNames() } satisfies BootReport);
  port.once('message', ({ buffer, sizes, names, timers, extensions }: GroupStart) => {
    const block = new ControlBlock(buffer, sizes, names);
    block.table.revive = (value, bytes) => reviveSyncPrimitives(value, bytes, block);
    for (const [name, value] of extensions) setInstalled(block, name, value);
    port.on('message', (message: InstallMessage) => {
      if (message?.type !== 'install') return;
      setInstalled(block, message.name, message.value);
      port.postMessage({ type: 'installed', name: message.name });
    });
    const group = new TaskGroup(block, new TaskCatalog(names), index, {
      data,
      timers,
      worker: true,
      onStop: () => port.close(),
    });
    group.run();
  });
} catch (error) {
  const { message, stack } = error instanceof Error ? error : new Error(String(error));
  port.postMessage({ type: 'boot-error', message, stack } satisfies BootReport);
  port.close();
}
