import { ParkingLot } from '@weft/shm';
import test from 'ava';

function makeLot(): ParkingLot {
  return ParkingLot.create(new SharedArrayBuffer(ParkingLot.bytesFor()), 0);
}

test('every signal changes the state, even with nobody waiting', (t) => {
  const lot = makeLot();
  const before = lot.state();
  t.is(lot.signal(), 0, 'nobody was woken');
  t.not(lot.state(), before);
  t.is(lot.wait(before, 1000), 'not-equal', 'a signal after the read is not lost');
});

test('wait with the current state times out when nothing happens', (t) => {
  const lot = makeLot();
  t.is(lot.wait(lot.state(), 0), 'timed-out');
  t.is(lot.wait(lot.state(), 5), 'timed-out');
});

test('waitAsync is woken by a signal from the same thread', async (t) => {
  const lot = makeLot();
  const parked = lot.waitAsync(lot.state());
  t.is(lot.signal(), 1);
  t.is(await parked, 'ok');
});

test('waitAsync sees a signal that landed after the state was read', async (t) => {
  const lot = makeLot();
  const seen = lot.state();
  lot.signal();
  t.is(await lot.waitAsync(seen), 'not-equal');
  t.is(await lot.waitAsync(lot.state(), 1), 'timed-out');
});

test('signal(n) wakes at most n waiters', async (t) => {
  const lot = makeLot();
  const state = lot.state();
  const parked = [
    lot.waitAsync(state, 2000),
    lot.waitAsync(state, 2000),
    lot.waitAsync(state, 2000),
  ];
  t.is(lot.signal(2), 2);
  t.is(lot.signal(5), 1);
  t.deepEqual(await Promise.all(parked), ['ok', 'ok', 'ok']);
});

test('stop wakes everyone and makes later waits return at once', async (t) => {
  const lot = makeLot();
  const parked = lot.waitAsync(lot.state());
  t.false(lot.stopped);
  lot.stop();
  t.true(lot.stopped);
  t.is(await parked, 'stopped');
  t.is(lot.wait(lot.state()), 'stopped');
  t.is(await lot.waitAsync(lot.state()), 'stopped');
  lot.signal();
  t.true(lot.stopped, 'signals keep the stop bit');
});

test('attach shares the same state', (t) => {
  const lot = makeLot();
  const other = ParkingLot.attach(lot.buffer, lot.byteOffset);
  const seen = other.state();
  lot.signal();
  t.is(other.wait(seen, 1000), 'not-equal');
});

test('bad arguments are rejected', (t) => {
  const lot = makeLot();
  for (const bad of [0, -1, Number.NaN]) {
    t.throws(() => lot.signal(bad), {
      instanceOf: RangeError,
      code: 'E_OUT_OF_RANGE',
      message: /wake count must be 1 or more/,
    });
  }
  t.throws(() => lot.signal('2' as never), { instanceOf: TypeError, code: 'E_INVALID_ARGUMENT' });
  t.throws(() => lot.wait(lot.state(), -1), {
    instanceOf: RangeError,
    code: 'E_OUT_OF_RANGE',
    message: /0 or more milliseconds/,
  });
  t.throws(() => lot.wait(lot.state(), Number.NaN), { code: 'E_OUT_OF_RANGE' });
  t.throws(() => lot.wait(1.5), { instanceOf: TypeError, code: 'E_NOT_INT32' });
  t.throws(() => lot.waitAsync(lot.state(), -5), { code: 'E_OUT_OF_RANGE' });
});
