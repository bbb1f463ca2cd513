/**
 * Notices: the int32 messages that endpoints' inboxes carry, `slot << 3 | kind`.
 *
 * A notice names a task slot (or a butex slot, or a group's timer number) and what happened to it;
 * the receiving thread looks up its own waiters for that number. Numbers are below 2^28, so the
 * kind fits in three bits; timer numbers are below 2^22, so a timer notice fits a timer token.
 */

/** What a notice is about. */
export const Notice = {
  /** The task in `slot` finished: wake this endpoint's joiners of it. */
  JOINED: 0,
  /** Cancel the fiber running the task in `slot` (it is pinned to this group). */
  CANCEL: 1,
  /** Butex `slot` was woken: wake one of this group's fibers waiting on it. */
  BUTEX_ONE: 2,
  /** Butex `slot` was woken: wake all of this group's fibers waiting on it. */
  BUTEX_ALL: 3,
  /** The group's timer number `slot` fired (sent by the timer thread): run what it was for. */
  TIMER: 4,
} as const;

/** Encodes a notice. */
export function notice(slot: number, kind: number): number {
  return (slot << 3) | kind;
}
