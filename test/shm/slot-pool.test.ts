import { MAX_VERSION, makeId, SlotPool, slotOf, versionOf } from '@weft/shm';
import test from 'ava';
import fc from 'fast-check';

function makePool(capacity: number, chunk?: number): SlotPool {
  const buffer = new SharedArrayBuffer(SlotPool.bytesFor(capacity));
  return SlotPool.create(buffer, 0, capacity, chunk === undefined ? {} : { chunk });
}

test('a fresh pool hands out slots 0, 1, 2, ... at version 1', (t) => {
  const pool = makePool(4);
  t.deepEqual(
    [pool.alloc(), pool.alloc(), pool.alloc()],
    [makeId(1, 0), makeId(1, 1), makeId(1, 2)],
  );
  t.is(pool.countInUse(), 3);
});

test('alloc returns -1 when exhausted, and a free makes room again', (t) => {
  const pool = makePool(3);
  const ids = [pool.alloc(), pool.alloc(), pool.alloc()];
  t.is(pool.alloc(), -1);
  t.is(pool.alloc(), -1);
  t.true(pool.free(ids[1]));
  const again = pool.alloc();
  t.is(slotOf(again), 1);
  t.is(versionOf(again), 2);
  t.is(pool.alloc(), -1);
});

test('free makes the id stale: resolve, free and idAt all see it', (t) => {
  const pool = makePool(2);
  const id = pool.alloc();
  t.is(pool.resolve(id), 0);
  t.is(pool.idAt(0), id);
  t.true(pool.free(id));
  t.is(pool.resolve(id), -1);
  t.is(pool.idAt(0), -1);
  t.false(pool.free(id), 'double free');
  const next = pool.alloc();
  t.not(next, id);
  t.false(pool.free(id), 'stale id of a reused slot');
  t.is(pool.resolve(next), slotOf(next));
  t.is(pool.countInUse(), 1);
});

test('phases: a slot is allocated into a phase, moves by CAS, and is freed only from its phase', (t) => {
  const pool = makePool(4);
  const id = pool.alloc(1);
  t.is(pool.phaseOf(id), 1);
  t.false(pool.setPhase(id, 2, 3), 'not in phase 2');
  t.true(pool.setPhase(id, 1, 2));
  t.is(pool.phaseOf(id), 2);
  t.is(pool.resolve(id), slotOf(id), 'in use in any phase');
  t.is(pool.idAt(slotOf(id)), id);
  t.false(pool.free(id, 1), 'not in phase 1: nothing changes');
  t.is(pool.phaseOf(id), 2);
  t.true(pool.free(id, 2));
  t.is(pool.phaseOf(id), 0, 'stale');
  t.false(pool.setPhase(id, 2, 3), 'a stale id moves nothing');
  const third = pool.alloc(3);
  t.is(pool.phaseOf(third), 3);
  t.is(pool.countInUse(), 1);
  for (const garbage of [0, -1, 2 ** 53, Number.NaN, makeId(1, 9)]) {
    t.is(pool.phaseOf(garbage), 0);
    t.false(pool.setPhase(garbage, 3, 1));
  }
});

test('bad phases are RangeErrors, and phase 0 (free) can never be named', (t) => {
  const pool = makePool(4);
  const id = pool.alloc();
  for (const bad of [0, 4, -1, 1.5, Number.NaN, '1']) {
    const kind = typeof bad === 'number' ? RangeError : TypeError;
    t.throws(() => pool.alloc(bad as never), { instanceOf: kind, message: /SlotPool phase/ });
    t.throws(() => pool.free(id, bad as never), { instanceOf: kind });
    t.throws(() => pool.setPhase(id, bad as never, 2), { instanceOf: kind });
    t.throws(() => pool.setPhase(id, 1, bad as never), { instanceOf: kind });
  }
  t.is(pool.phaseOf(id), 1, 'the bad calls changed nothing');
  t.is(pool.countInUse(), 1);
});

test('foreign and malformed ids are -1 / false and change nothing', (t) => {
  const pool = makePool(4);
  const id = pool.alloc();
  const forged = [
    makeId(1, 1), // a free slot at its next version
    makeId(2, 0), // right slot, wrong version
    makeId(1, 4), // slot beyond capacity
    makeId(MAX_VERSION, 2 ** 32 - 1),
    0,
    1,
    -1,
    0.5,
    2 ** 53,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    '4294967296',
    null,
    undefined,
    BigInt(id),
    {},
  ];
  for (const bad of forged) {
    t.is(pool.resolve(bad as never), -1, String(bad));
    t.false(pool.free(bad as never), String(bad));
  }
  t.is(pool.countInUse(), 1);
  t.is(pool.resolve(id), 0);
  // The forged free of slot 1 must not have put it on the free list twice.
  const handed = new Set([slotOf(id)]);
  for (let id2 = pool.alloc(); id2 !== -1; id2 = pool.alloc()) {
    t.false(handed.has(slotOf(id2)), 'no slot handed out twice');
    handed.add(slotOf(id2));
  }
  t.is(handed.size, 4);
});

test('versions wrap after 2^21 - 1 reuses of one slot, skipping 0', (t) => {
  const pool = makePool(1);
  let id = pool.alloc();
  const first = id;
  for (let i = 1; i < MAX_VERSION; i++) {
    pool.free(id);
    id = pool.alloc();
  }
  t.is(versionOf(id), MAX_VERSION);
  t.is(pool.resolve(first), -1);
  t.true(pool.free(id));
  const wrapped = pool.alloc();
  t.is(versionOf(wrapped), 1);
  t.is(wrapped, first, 'after a full wrap the first id is valid again: 21 bits is the limit');
  t.is(pool.resolve(id), -1);
});

test('slots cached by one handle are invisible to another until flushed', (t) => {
  const pool = makePool(256, 4);
  const other = SlotPool.attach(pool.buffer, pool.byteOffset);
  t.is(other.chunk, 4);
  const ids: number[] = [];
  for (let id = pool.alloc(); id !== -1; id = pool.alloc()) ids.push(id);
  t.is(ids.length, 256);
  t.is(other.alloc(), -1);
  for (const id of ids.slice(0, 3)) t.true(other.free(id), 'any handle can free any id');
  // `other` caches what it freed; `pool` cannot see it.
  t.is(pool.alloc(), -1);
  other.flushCache();
  const back = [pool.alloc(), pool.alloc(), pool.alloc(), pool.alloc()];
  t.deepEqual(back.slice(0, 3).map(slotOf).sort(), ids.slice(0, 3).map(slotOf).sort());
  t.is(back[3], -1);
});

test('chunk traffic between handles loses no slot', (t) => {
  const pool = makePool(64, 2);
  const other = SlotPool.attach(pool.buffer, pool.byteOffset);
  for (let round = 0; round < 50; round++) {
    const ids: number[] = [];
    for (let id = pool.alloc(); id !== -1; id = pool.alloc()) ids.push(id);
    for (const id of ids) t.true(other.free(id)); // other gives chunks back as its cache fills
    other.flushCache();
    t.is(ids.length, 64, `round ${round}`);
  }
  t.is(pool.countInUse(), 0);
});

test('bad capacity and chunk are RangeErrors stating the rule', (t) => {
  for (const bad of [0, -1, 1.5, 2 ** 28 + 1, Number.NaN]) {
    t.throws(() => SlotPool.bytesFor(bad), {
      instanceOf: RangeError,
      code: 'E_INVALID_CAPACITY',
      message: /integer from 1 to/,
    });
  }
  const buffer = new SharedArrayBuffer(SlotPool.bytesFor(8));
  for (const chunk of [0, 1025, 2.5]) {
    t.throws(() => SlotPool.create(buffer, 0, 8, { chunk }), {
      instanceOf: RangeError,
      code: 'E_OUT_OF_RANGE',
      message: /chunk must be an integer from 1 to 1024/,
    });
  }
  t.throws(() => makePool(8).idAt(8), { instanceOf: RangeError, code: 'E_OUT_OF_RANGE' });
});

test('matches a model of live ids under random operation sequences', (t) => {
  const op = fc.oneof(
    fc.constant({ kind: 'alloc' as const }),
    fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('freeStale' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('flush' as const) }),
  );
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 20 }),
      fc.integer({ min: 1, max: 4 }),
      fc.array(op, { maxLength: 300 }),
      (capacity, chunk, ops) => {
        const pool = makePool(capacity, chunk);
        const live: number[] = [];
        const dead: number[] = [];
        for (const o of ops) {
          if (o.kind === 'alloc') {
            const id = pool.alloc();
            if (live.length === capacity) {
              if (id !== -1) return false;
            } else {
              if (id === -1 || live.some((other) => slotOf(other) === slotOf(id))) return false;
              live.push(id);
            }
          } else if (o.kind === 'free' && live.length > 0) {
            const [id] = live.splice(o.pick % live.length, 1);
            if (!pool.free(id)) return false;
            dead.push(id);
          } else if (o.kind === 'freeStale' && dead.length > 0) {
            if (pool.free(dead[o.pick % dead.length])) return false;
          } else if (o.kind === 'flush') {
            pool.flushCache();
          }
          if (pool.countInUse() !== live.length) return false;
          if (live.some((id) => pool.resolve(id) !== slotOf(id))) return false;
          if (dead.some((id) => pool.resolve(id) !== -1)) return false;
        }
        return true;
      },
    ),
    { numRuns: 300 },
  );
  t.pass();
});

test('create without options uses the default chunk', (t) => {
  const pool = SlotPool.create(new SharedArrayBuffer(SlotPool.bytesFor(4096)), 0, 4096);
  t.is(pool.chunk, 32);
  t.is(makePool(100).chunk, 1);
  t.is(makePool(640).chunk, 10);
});
