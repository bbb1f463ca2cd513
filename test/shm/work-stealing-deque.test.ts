import { WorkStealingDeque } from '@weft/shm';
import test from 'ava';
import fc from 'fast-check';
import { DEQUE_WORDS } from '../../packages/shm/src/work-stealing-deque.ts';

function makeDeque(capacity: number, startIndex = 0): WorkStealingDeque {
  const buffer = new SharedArrayBuffer(WorkStealingDeque.bytesFor(capacity));
  const words = new Int32Array(buffer);
  // Start the counters at `startIndex`, then attach a fresh handle that reads them.
  WorkStealingDeque.create(buffer, 0, capacity);
  words[DEQUE_WORDS.bottom] = startIndex;
  words[DEQUE_WORDS.top] = startIndex;
  return WorkStealingDeque.attach(buffer, 0);
}

test('owner pops newest first, thieves steal oldest first', (t) => {
  const deque = makeDeque(8);
  for (const v of [1, 2, 3, 4]) t.true(deque.push(v));
  t.is(deque.size(), 4);
  t.is(deque.pop(), 4);
  t.is(deque.steal(), 1);
  t.is(deque.pop(), 3);
  t.is(deque.steal(), 2);
  t.is(deque.pop(), undefined);
  t.is(deque.steal(), undefined);
  t.is(deque.size(), 0);
});

test('empty deque: pop and steal return undefined and leave it usable', (t) => {
  const deque = makeDeque(4);
  t.is(deque.pop(), undefined);
  t.is(deque.steal(), undefined);
  t.is(deque.pop(), undefined);
  t.true(deque.push(9));
  t.is(deque.steal(), 9);
  t.is(deque.pop(), undefined);
  t.true(deque.push(10));
  t.is(deque.pop(), 10);
});

test('full deque: push returns false, never blocks, and keeps every item', (t) => {
  const deque = makeDeque(4);
  for (const v of [1, 2, 3, 4]) t.true(deque.push(v));
  t.false(deque.push(5));
  t.is(deque.size(), 4);
  t.is(deque.steal(), 1);
  t.true(deque.push(5), 'a steal makes room');
  t.false(deque.push(6));
  t.deepEqual(
    [deque.pop(), deque.pop(), deque.pop(), deque.pop(), deque.pop()],
    [5, 4, 3, 2, undefined],
  );
});

test('any int32 is a value, including 0, -1 and the extremes', (t) => {
  const deque = makeDeque(8);
  const values = [0, -1, 2147483647, -2147483648, -0];
  for (const v of values) t.true(deque.push(v));
  t.deepEqual(
    [deque.steal(), deque.steal(), deque.steal(), deque.steal(), deque.steal()],
    [0, -1, 2147483647, -2147483648, 0],
  );
});

test('wrap-around: many laps around a small ring', (t) => {
  const deque = makeDeque(4);
  for (let i = 0; i < 1000; i++) {
    t.true(deque.push(i));
    t.true(deque.push(i + 1));
    if (deque.steal() !== i || deque.pop() !== i + 1) return t.fail(`lap ${i}`);
  }
  t.is(deque.size(), 0);
});

for (const start of [2 ** 31 - 3, -3, 2 ** 31 - 1]) {
  test(`indices stay correct across the int32 boundary (counters start at ${start | 0})`, (t) => {
    const deque = makeDeque(8, start | 0);
    for (let round = 0; round < 4; round++) {
      for (let v = 0; v < 8; v++) t.true(deque.push(v));
      t.false(deque.push(99));
      t.is(deque.size(), 8);
      t.is(deque.steal(), 0);
      t.is(deque.pop(), 7);
      for (let v = 1; v < 4; v++) t.is(deque.steal(), v);
      for (let v = 6; v >= 4; v--) t.is(deque.pop(), v);
      t.is(deque.pop(), undefined);
      t.is(deque.steal(), undefined);
    }
  });
}

test('bad capacity: RangeError stating the rule', (t) => {
  for (const bad of [0, 1, 3, 1000, 2 ** 31, -8, 2.5, Number.NaN]) {
    t.throws(() => WorkStealingDeque.bytesFor(bad), {
      instanceOf: RangeError,
      code: 'E_INVALID_CAPACITY',
      message: /power of two from 2 to 1073741824/,
    });
  }
  t.throws(() => WorkStealingDeque.bytesFor('8' as never), { code: 'E_INVALID_CAPACITY' });
});

test('push of a non-int32 is a TypeError and leaves the deque unchanged', (t) => {
  const deque = makeDeque(4);
  deque.push(1);
  for (const bad of [1.5, 2 ** 31, -(2 ** 31) - 1, Number.NaN, '1', null, undefined, 1n, {}]) {
    t.throws(() => deque.push(bad as never), {
      instanceOf: TypeError,
      code: 'E_NOT_INT32',
      message: /must be an int32/,
    });
  }
  t.is(deque.size(), 1);
  t.is(deque.pop(), 1);
});

test('attach on another handle sees the same items', (t) => {
  const deque = makeDeque(8);
  deque.push(5);
  deque.push(6);
  const thief = WorkStealingDeque.attach(deque.buffer, deque.byteOffset);
  t.is(thief.capacity, 8);
  t.is(thief.steal(), 5);
  t.is(deque.pop(), 6);
});

test('matches a simple model under random operation sequences', (t) => {
  const op = fc.oneof(
    fc.record({
      kind: fc.constant('push' as const),
      value: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    }),
    fc.record({ kind: fc.constant('pop' as const) }),
    fc.record({ kind: fc.constant('steal' as const) }),
  );
  fc.assert(
    fc.property(
      fc.constantFrom(2, 4, 16),
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      fc.array(op, { maxLength: 200 }),
      (capacity, start, ops) => {
        const deque = makeDeque(capacity, start);
        const model: number[] = [];
        for (const o of ops) {
          if (o.kind === 'push') {
            const fits = model.length < capacity;
            if (deque.push(o.value) !== fits) return false;
            if (fits) model.push(o.value);
          } else if (o.kind === 'pop') {
            if (deque.pop() !== model.pop()) return false;
          } else if (deque.steal() !== model.shift()) {
            return false;
          }
          if (deque.size() !== model.length) return false;
        }
        return true;
      },
    ),
    { numRuns: 500 },
  );
  t.pass();
});
