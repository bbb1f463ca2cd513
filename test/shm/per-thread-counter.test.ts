import { PerThreadCounter } from '@weft/shm';
import test from 'ava';
import fc from 'fast-check';

function makeCounter(threads: number, counters?: number): PerThreadCounter {
  const buffer = new SharedArrayBuffer(PerThreadCounter.bytesFor(threads, counters));
  return PerThreadCounter.create(buffer, 0, { threads, counters });
}

test('rows add up on read', (t) => {
  const counter = makeCounter(3, 2);
  counter.add(0);
  counter.add(1, 5);
  counter.add(2, -2);
  counter.add(2, 10, 1);
  t.is(counter.read(), 4);
  t.is(counter.read(1), 10);
  t.is(counter.readThread(1), 5);
  t.is(counter.readThread(2, 1), 10);
});

test('values go past 2^32 without overflow, exact up to 2^53', (t) => {
  const counter = makeCounter(2);
  counter.add(0, 2 ** 52);
  counter.add(1, 2 ** 52 - 1);
  t.is(counter.read(), 2 ** 53 - 1);
  counter.add(0, -(2 ** 52));
  t.is(counter.readThread(0), 0);
});

test('each row starts on its own cache line', (t) => {
  t.is(PerThreadCounter.bytesFor(1, 1), 128);
  t.is(PerThreadCounter.bytesFor(4, 1), 64 + 4 * 64);
  t.is(PerThreadCounter.bytesFor(2, 9), 64 + 2 * 128);
});

test('attach reads the same cells', (t) => {
  const counter = makeCounter(2, 3);
  const other = PerThreadCounter.attach(counter.buffer, counter.byteOffset);
  t.is(other.threads, 2);
  t.is(other.counters, 3);
  other.add(1, 7, 2);
  t.is(counter.read(2), 7);
});

test('bad arguments are rejected and change no cell', (t) => {
  const counter = makeCounter(2, 2);
  t.throws(() => counter.add(2), {
    instanceOf: RangeError,
    code: 'E_OUT_OF_RANGE',
    message: /thread must be an integer from 0 to 1/,
  });
  t.throws(() => counter.add(-1), { code: 'E_OUT_OF_RANGE' });
  t.throws(() => counter.add(0.5), { code: 'E_OUT_OF_RANGE' });
  t.throws(() => counter.add('0' as never), { instanceOf: TypeError, code: 'E_INVALID_ARGUMENT' });
  t.throws(() => counter.add(0, 1, 2), { code: 'E_OUT_OF_RANGE', message: /counter must be/ });
  t.throws(() => counter.add(0, 0.5), { code: 'E_OUT_OF_RANGE', message: /delta/ });
  t.throws(() => counter.add(0, 2 ** 53), { code: 'E_OUT_OF_RANGE' });
  t.throws(() => counter.add(0, Number.NaN), { code: 'E_OUT_OF_RANGE' });
  t.throws(() => counter.read(5), { code: 'E_OUT_OF_RANGE' });
  t.throws(() => counter.readThread(9), { code: 'E_OUT_OF_RANGE' });
  t.is(counter.read(0) + counter.read(1), 0);
  for (const bad of [0, 4097, 1.5]) {
    t.throws(() => PerThreadCounter.bytesFor(bad), {
      instanceOf: RangeError,
      code: 'E_OUT_OF_RANGE',
    });
  }
  t.throws(() => PerThreadCounter.bytesFor(1, 0), { code: 'E_OUT_OF_RANGE' });
  const buffer = new SharedArrayBuffer(PerThreadCounter.bytesFor(1));
  t.throws(() => PerThreadCounter.create(buffer, 0, undefined as never), {
    instanceOf: TypeError,
    code: 'E_INVALID_ARGUMENT',
    message: /threads must be a number/,
  });
});

test('matches a model of sums under random adds', (t) => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.integer({ min: 0, max: 3 }),
          fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
          fc.integer({ min: 0, max: 1 }),
        ),
        { maxLength: 100 },
      ),
      (adds) => {
        const counter = makeCounter(4, 2);
        const sums = [0, 0];
        for (const [thread, delta, which] of adds) {
          counter.add(thread, delta, which);
          sums[which] += delta;
        }
        return counter.read(0) === sums[0] && counter.read(1) === sums[1];
      },
    ),
  );
  t.pass();
});
