/**
 * When a group's worker dies (an uncaught error, `process.exit` in a task, a crash): what it held
 * is recovered from shared memory, on the main thread, before a new worker takes its place.
 *
 * - Its unstarted tasks are not lost: whatever is left in its deque (stolen from the top, as any
 *   thief would) and its remote queue (popped by the main thread, now that its consumer is gone)
 *   is handed back to be queued again.
 * - Its fibers cannot be recovered (their stacks died with the thread): every task RUNNING with
 *   this group as home finishes with E_WORKER_DIED naming the cause, and its joiners wake.
 * - The task it was running when it died is blamed: its function's poison count goes up, and a
 *   function whose tasks killed POISON_LIMIT workers in a row is no longer run (E_POISON), instead
 *   of killing workers forever. A clean finish of one of its tasks resets the count.
 * - Notices still in its inbox were for the dead fibers and are dropped.
 */
import { ErrorCode, WeftError } from '@weft/shm';
import { type ControlBlock, GroupStatus } from './control-block.ts';
import { Notice, notice } from './notices.ts';
import { TaskState } from './task-table.ts';

/** Recovers what dead group `group` held; returns the slots of its unstarted tasks to requeue. */
export function recoverDeadGroup(block: ControlBlock, group: number, cause: string): number[] {
  const { table } = block;
  const status = block.status[group];
  Atomics.store(status, GroupStatus.ALIVE, 0);
  // The task it was running, if that task is indeed still running there.
  const current = status[GroupStatus.CURRENT];
  const culprit =
    current >= 0 && table.stateOf(current) === TaskState.RUNNING && table.home[current] === group
      ? current
      : -1;
  const blamedFn = culprit >= 0 ? table.fn[culprit] : -1;
  status[GroupStatus.CURRENT] = -1;

  const requeue: number[] = [];
  for (
    let slot = block.deques[group].steal();
    slot !== undefined;
    slot = block.deques[group].steal()
  ) {
    requeue.push(slot);
  }
  for (
    let slot = block.remotes[group].pop();
    slot !== undefined;
    slot = block.remotes[group].pop()
  ) {
    requeue.push(slot);
  }
  while (block.inboxes[group].pop() !== undefined);

  const wake = (endpoint: number, slot: number) =>
    block.post(endpoint, notice(slot, Notice.JOINED));
  for (let slot = 0; slot < table.capacity; slot++) {
    if (table.stateOf(slot) !== TaskState.RUNNING || table.home[slot] !== group) continue;
    const name = table.nameOf(table.fn[slot]);
    table.writeError(
      slot,
      new WeftError(
        ErrorCode.WORKER_DIED,
        slot === culprit
          ? `worker ${group} died while running task "${name}": ${cause}`
          : `task "${name}" was on worker ${group}, which died: ${cause}`,
      ),
    );
    table.finish(slot, wake);
  }
  if (blamedFn >= 0) Atomics.add(block.poison, blamedFn, 1);
  return requeue;
}
