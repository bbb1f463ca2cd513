// A timer service for a test, stopped when the test ends.

import { TimerService, type TimerServiceOptions } from '@weft/timers';
import type { ExecutionContext } from 'ava';

export async function startFor(
  t: ExecutionContext,
  options?: TimerServiceOptions,
): Promise<TimerService> {
  const service = await TimerService.start(options);
  t.teardown(() => service.stop());
  return service;
}

/** Resolves after `ms` of real time. */
export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
