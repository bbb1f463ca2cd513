import { Butex } from '@weft/shm';
import test from 'ava';

function makeButex(initial?: number): Butex {
  return Butex.create(new SharedArrayBuffer(Butex.bytesFor()), 0, initial);
}

test('value operations', (t) => {
  const butex = makeButex(5);
  t.is(butex.load(), 5);
  butex.store(-3);
  t.is(butex.add(4), -3);
  t.is(butex.load(), 1);
  t.is(butex.compareExchange(1, 9), 1);
  t.is(butex.compareExchange(1, 7), 9, 'a failed exchange returns what it found');
  t.is(butex.load(), 9);
  t.is(butex.exchange(4), 9);
  t.is(butex.load(), 4);
  butex.store(2147483647);
  butex.add(1);
  t.is(butex.load(), -2147483648, 'wraps as an int32');
  t.is(makeButex().load(), 0);
});

test('wait returns at once when the value has moved on', (t) => {
  const butex = makeButex(1);
  t.is(butex.wait(0), 'not-equal');
  t.is(butex.wait(1, 0), 'timed-out');
});

test('wake changes nothing when nobody waits', (t) => {
  const butex = makeButex();
  t.is(butex.wake(), 0);
  t.is(butex.wakeAll(), 0);
});

test('waitAsync: the waker changes the value first, then wakes', async (t) => {
  const butex = makeButex(0);
  const first = butex.waitAsync(0);
  const second = butex.waitAsync(0);
  butex.store(1);
  t.is(butex.wake(1), 1, 'wake(1) wakes one');
  t.is(butex.wakeAll(), 1);
  t.deepEqual(await Promise.all([first, second]), ['ok', 'ok']);
  t.is(await butex.waitAsync(0), 'not-equal');
  t.is(await butex.waitAsync(1, 1), 'timed-out');
});

test('attach shares the value', (t) => {
  const butex = makeButex(3);
  const other = Butex.attach(butex.buffer, butex.byteOffset);
  other.add(1);
  t.is(butex.load(), 4);
});

test('bad arguments are rejected and leave the value alone', (t) => {
  const butex = makeButex(1);
  for (const bad of [1.5, 2 ** 31, Number.NaN, '1', undefined]) {
    t.throws(() => butex.store(bad as never), { instanceOf: TypeError, code: 'E_NOT_INT32' });
    t.throws(() => butex.add(bad as never), { code: 'E_NOT_INT32' });
    t.throws(() => butex.exchange(bad as never), { code: 'E_NOT_INT32' });
    t.throws(() => butex.wait(bad as never), { code: 'E_NOT_INT32' });
    t.throws(() => butex.waitAsync(bad as never), { code: 'E_NOT_INT32' });
    t.throws(() => butex.compareExchange(1, bad as never), { code: 'E_NOT_INT32' });
  }
  t.throws(() => butex.wake(0), { instanceOf: RangeError, code: 'E_OUT_OF_RANGE' });
  t.throws(() => butex.wait(1, -1), { instanceOf: RangeError, code: 'E_OUT_OF_RANGE' });
  t.throws(() => Butex.create(new SharedArrayBuffer(64), 0, 0.5), { code: 'E_NOT_INT32' });
  t.is(butex.load(), 1);
});
