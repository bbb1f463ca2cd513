import { MpscQueue } from '@weft/shm';
import test from 'ava';
import fc from 'fast-check';
import { MPSC_WORDS } from '../../packages/shm/src/mpsc-queue.ts';

/** A queue whose head and tail counters start at `startIndex` (cell sequences set to match). */
function makeQueue(capacity: number, startIndex = 0): MpscQueue {
  const buffer = new SharedArrayBuffer(MpscQueue.bytesFor(capacity));
  MpscQueue.create(buffer, 0, capacity);
  const words = new Int32Array(buffer);
  words[MPSC_WORDS.head] = startIndex;
  words[MPSC_WORDS.tail] = startIndex;
  for (let i = 0; i < capacity; i++) {
    const position = (startIndex + i) | 0;
    words[MPSC_WORDS.cells + 2 * (position & (capacity - 1))] = position;
  }
  return MpscQueue.attach(buffer, 0);
}

test('values come out in the order they went in', (t) => {
  const queue = makeQueue(8);
  for (const v of [3, 1, 2]) t.true(queue.tryPush(v));
  t.is(queue.size(), 3);
  t.deepEqual([queue.pop(), queue.pop(), queue.pop(), queue.pop()], [3, 1, 2, undefined]);
  t.is(queue.size(), 0);
});

test('full queue: tryPush returns false and keeps what is queued', (t) => {
  const queue = makeQueue(4);
  for (const v of [1, 2, 3, 4]) t.true(queue.tryPush(v));
  t.false(queue.tryPush(5));
  t.is(queue.pop(), 1);
  t.true(queue.tryPush(5));
  t.false(queue.tryPush(6));
  t.deepEqual([queue.pop(), queue.pop(), queue.pop(), queue.pop()], [2, 3, 4, 5]);
});

test('popBatch moves up to into.length values, oldest first', (t) => {
  const queue = makeQueue(8);
  for (let v = 0; v < 6; v++) queue.tryPush(v * 10);
  const into = new Int32Array(4);
  t.is(queue.popBatch(into), 4);
  t.deepEqual([...into], [0, 10, 20, 30]);
  const rest: number[] = [0, 0, 0, 0];
  t.is(queue.popBatch(rest), 2);
  t.deepEqual(rest.slice(0, 2), [40, 50]);
  t.is(queue.popBatch(into), 0, 'empty');
  t.is(queue.popBatch([]), 0, 'no room');
  t.true(queue.tryPush(7));
  t.is(queue.pop(), 7);
});

test('any int32 is a value', (t) => {
  const queue = makeQueue(8);
  const values = [0, -1, 2147483647, -2147483648];
  for (const v of values) queue.tryPush(v);
  t.deepEqual([queue.pop(), queue.pop(), queue.pop(), queue.pop()], values);
});

for (const start of [2 ** 31 - 2, -2, 2 ** 31 - 1]) {
  test(`indices stay correct across the int32 boundary (counters start at ${start | 0})`, (t) => {
    const queue = makeQueue(4, start | 0);
    for (let round = 0; round < 5; round++) {
      for (let v = 0; v < 4; v++) t.true(queue.tryPush(round * 4 + v));
      t.false(queue.tryPush(-1));
      t.is(queue.size(), 4);
      for (let v = 0; v < 4; v++) t.is(queue.pop(), round * 4 + v);
      t.is(queue.pop(), undefined);
    }
  });
}

test('bad capacity and bad values are rejected without touching the queue', (t) => {
  for (const bad of [0, 1, 6, 2 ** 30, -4]) {
    t.throws(() => MpscQueue.bytesFor(bad), {
      instanceOf: RangeError,
      code: 'E_INVALID_CAPACITY',
      message: /power of two from 2 to/,
    });
  }
  const queue = makeQueue(4);
  queue.tryPush(1);
  for (const bad of [0.5, 2 ** 31, Number.NaN, '3', undefined]) {
    t.throws(() => queue.tryPush(bad as never), { instanceOf: TypeError, code: 'E_NOT_INT32' });
  }
  t.is(queue.size(), 1);
  t.is(queue.pop(), 1);
});

test('matches a FIFO model under random operation sequences', (t) => {
  const op = fc.oneof(
    fc.record({
      kind: fc.constant('push' as const),
      value: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    }),
    fc.record({ kind: fc.constant('pop' as const) }),
    fc.record({ kind: fc.constant('popBatch' as const), room: fc.integer({ min: 0, max: 5 }) }),
  );
  fc.assert(
    fc.property(
      fc.constantFrom(2, 4, 8),
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      fc.array(op, { maxLength: 200 }),
      (capacity, start, ops) => {
        const queue = makeQueue(capacity, start);
        const model: number[] = [];
        for (const o of ops) {
          if (o.kind === 'push') {
            const fits = model.length < capacity;
            if (queue.tryPush(o.value) !== fits) return false;
            if (fits) model.push(o.value);
          } else if (o.kind === 'pop') {
            if (queue.pop() !== model.shift()) return false;
          } else {
            const into = new Int32Array(o.room);
            const moved = queue.popBatch(into);
            const expected = model.splice(0, o.room);
            if (moved !== expected.length || expected.some((v, i) => into[i] !== v)) return false;
          }
          if (queue.size() !== model.length) return false;
        }
        return true;
      },
    ),
    { numRuns: 500 },
  );
  t.pass();
});
