/**
 * One side of a cross-thread ping-pong: `trips` round trips per round between two threads, each
 * sleeping until the other hands the turn back.
 *
 * Thread 0 (ping) starts each trip; thread 1 (pong) answers. Each thread sleeps on a word of its
 * own and wakes the other's:
 * - 'lot': a ParkingLot each; read `state()`, then `wait` while it is unchanged; hand over with
 *   `signal()`. Every hand-off goes through a futex wake-up.
 * - 'spin-then-lot': the same, but poll `state()` up to SPIN_POLLS times before sleeping, as a
 *   TaskGroup spins before it parks; with a second core free, no hand-off reaches the futex.
 * - 'atomics': the same protocol on bare Int32 words with Atomics.add + wait + notify: what
 *   a ParkingLot wraps, as the reference.
 */
import { ParkingLot } from '@weft/shm';
import { runRounds, threadData } from '../harness/threads.ts';

export interface PingPongData {
  mode: 'lot' | 'spin-then-lot' | 'atomics';
  /** 0 = ping, 1 = pong. */
  side: 0 | 1;
  trips: number;
  buffer: SharedArrayBuffer;
  /** Each side's word: the offsets of two ParkingLots, or of two Int32 words on lines of their own. */
  offsets: [number, number];
}

const SPIN_POLLS = 2000;

const data = threadData<PingPongData>();
const { side, trips } = data;

/** A thread's sleeping place: read its state, sleep while unchanged, wake the other side's. */
interface Turn {
  state(): number;
  sleepWhile(seen: number): void;
  hand(): void;
}

function lotTurn(spin: boolean): Turn {
  const mine = ParkingLot.attach(data.buffer, data.offsets[side]);
  const theirs = ParkingLot.attach(data.buffer, data.offsets[1 - side]);
  return {
    state: () => mine.state(),
    sleepWhile(seen) {
      if (spin) {
        for (let i = 0; i < SPIN_POLLS; i++) if (mine.state() !== seen) return;
      }
      while (mine.state() === seen) mine.wait(seen);
    },
    hand() {
      theirs.signal();
    },
  };
}

function atomicsTurn(): Turn {
  const mine = new Int32Array(data.buffer, data.offsets[side], 1);
  const theirs = new Int32Array(data.buffer, data.offsets[1 - side], 1);
  return {
    state: () => Atomics.load(mine, 0),
    sleepWhile(seen) {
      while (Atomics.load(mine, 0) === seen) Atomics.wait(mine, 0, seen);
    },
    hand() {
      Atomics.add(theirs, 0, 1);
      Atomics.notify(theirs, 0, 1);
    },
  };
}

const turn = data.mode === 'atomics' ? atomicsTurn() : lotTurn(data.mode === 'spin-then-lot');

// Pong's state is read before it reports ready, so ping's first hand-off, which comes after the
// gate opens, always changes it; from then on it is re-read after every wake-up.
let seen = turn.state();

runRounds(() => {
  for (let trip = 0; trip < trips; trip++) {
    if (side === 0) {
      seen = turn.state();
      turn.hand();
      turn.sleepWhile(seen);
    } else {
      turn.sleepWhile(seen);
      seen = turn.state();
      turn.hand();
    }
  }
  return trips;
});
