/**
 * The errors a task operation reports, worded once for every caller (fibers and other threads).
 */
import { ErrorCode, isWellFormedId, WeftError } from '@weft/shm';

/** E_STALE_ID for an operation (`what`: join, cancel, detach) on an id that names no task. */
export function staleTaskError(id: unknown, what: string): WeftError {
  return new WeftError(
    ErrorCode.STALE_ID,
    `cannot ${what} task ${String(id)}: ${
      isWellFormedId(id)
        ? 'it was already joined or detached, or is not from this scheduler'
        : 'that is not a TaskId'
    }`,
  );
}

/** E_CANCELLED for a task that was cancelled. */
export function cancelledError(name: string, id: number): WeftError {
  return new WeftError(ErrorCode.CANCELLED, `task "${name}" (id ${id}) was cancelled`);
}
