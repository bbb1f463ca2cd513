// Tasks that wait on effection operations through the bridge.

import { schedulerData, sleep, task } from '@weft/scheduler';
import { fromOperation } from '@weft/scheduler/effection';
import { sleep as effectionSleep, suspend } from 'effection';

const cells = () => new Int32Array(schedulerData<{ cells: SharedArrayBuffer }>().cells);

export const bridged = task('bridged', function* (value: number) {
  return yield* fromOperation(function* () {
    yield* effectionSleep(5);
    return value * 2;
  });
});

/** Records in cell 5 that its operation started; waits forever; records in cell 2 its halt. */
export const bridgedForever = task('bridgedForever', function* () {
  yield* fromOperation(function* () {
    Atomics.store(cells(), 5, 1);
    try {
      yield* suspend();
    } finally {
      Atomics.store(cells(), 2, 1); // halted
    }
  });
});

/** Records in cell 4 that it started; sleeps long; records in cell 3 that its finally ran. */
export const longSleep = task('longSleep', function* () {
  Atomics.store(cells(), 4, 1);
  try {
    yield* sleep(60_000);
  } finally {
    Atomics.store(cells(), 3, 1);
  }
});
