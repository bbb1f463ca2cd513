// Starting a scheduler for a test, closed when the test ends, whatever happens.

import { Scheduler, type SchedulerOptions } from '@weft/scheduler';
import type { ExecutionContext } from 'ava';

export const taskModule = (file: string) => new URL(`./tasks/${file}`, import.meta.url);

export async function startFor(t: ExecutionContext, options: SchedulerOptions): Promise<Scheduler> {
  const sched = await Scheduler.start(options);
  t.teardown(() => sched.close({ drain: false, timeoutMs: 5000 }));
  return sched;
}
