/**
 * TimerBucket: what the timer thread and the producers need of a bucket of new timers, whichever
 * ring implements it — TimerRing (shared by several producers) or OwnedTimerRing (one producer).
 */
export interface TimerBucket {
  readonly capacity: number;
  /** Appends (id, deadline); returns the cell it took (for the wake-up policy), -1 when full. */
  push(id: number, deadline: number): number;
  /** Timer thread only. Passes every published record to `take`, oldest first; returns how many. */
  drain(take: (id: number, deadline: number) => void): number;
  /** Timer thread only. True if a published record waits. */
  hasRecords(): boolean;
}
