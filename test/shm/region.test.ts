import {
  alignToLine,
  Butex,
  CACHE_LINE,
  MpscQueue,
  ParkingLot,
  PerThreadCounter,
  SharedLayout,
  SlotPool,
  WeftError,
  WorkStealingDeque,
} from '@weft/shm';
import test from 'ava';

test('SharedLayout hands out cache-line-aligned, non-overlapping regions', (t) => {
  const layout = new SharedLayout();
  const a = layout.reserve(1);
  const b = layout.reserve(100);
  const c = layout.reserve(0);
  const d = layout.reserve(64);
  t.deepEqual([a, b, c, d], [0, 64, 192, 192]);
  t.is(layout.byteLength, 256);
  const buffer = layout.allocate();
  t.true(buffer instanceof SharedArrayBuffer);
  t.is(buffer.byteLength, 256);
});

test('SharedLayout rejects a bad size', (t) => {
  const layout = new SharedLayout();
  t.throws(() => layout.reserve(-1), { instanceOf: RangeError, code: 'E_OUT_OF_RANGE' });
  t.throws(() => layout.reserve('8' as never), {
    instanceOf: TypeError,
    code: 'E_INVALID_ARGUMENT',
  });
});

test('alignToLine rounds up to whole cache lines', (t) => {
  t.is(CACHE_LINE, 64);
  t.is(alignToLine(0), 0);
  t.is(alignToLine(1), 64);
  t.is(alignToLine(64), 64);
  t.is(alignToLine(65), 128);
});

// Every structure goes through the same region checks; each case names its own structure.
const kinds = [
  {
    name: 'WorkStealingDeque',
    create: (b: SharedArrayBuffer, o: number) => WorkStealingDeque.create(b, o, 8),
    attach: WorkStealingDeque.attach,
    bytes: WorkStealingDeque.bytesFor(8),
  },
  {
    name: 'MpscQueue',
    create: (b: SharedArrayBuffer, o: number) => MpscQueue.create(b, o, 8),
    attach: MpscQueue.attach,
    bytes: MpscQueue.bytesFor(8),
  },
  {
    name: 'SlotPool',
    create: (b: SharedArrayBuffer, o: number) => SlotPool.create(b, o, 8),
    attach: SlotPool.attach,
    bytes: SlotPool.bytesFor(8),
  },
  {
    name: 'ParkingLot',
    create: ParkingLot.create,
    attach: ParkingLot.attach,
    bytes: ParkingLot.bytesFor(),
  },
  {
    name: 'Butex',
    create: (b: SharedArrayBuffer, o: number) => Butex.create(b, o),
    attach: Butex.attach,
    bytes: Butex.bytesFor(),
  },
  {
    name: 'PerThreadCounter',
    create: (b: SharedArrayBuffer, o: number) => PerThreadCounter.create(b, o, { threads: 2 }),
    attach: PerThreadCounter.attach,
    bytes: PerThreadCounter.bytesFor(2),
  },
];

for (const kind of kinds) {
  test(`${kind.name}: create and attach check the region`, (t) => {
    const buffer = new SharedArrayBuffer(kind.bytes + 128);
    t.throws(() => kind.create(new ArrayBuffer(kind.bytes) as never, 0), {
      instanceOf: TypeError,
      code: 'E_INVALID_ARGUMENT',
      message: /SharedArrayBuffer/,
    });
    t.throws(() => kind.create(buffer, 4), {
      instanceOf: RangeError,
      code: 'E_MISALIGNED',
      message: /multiple of 64/,
    });
    t.throws(() => kind.create(buffer, -64), { instanceOf: RangeError, code: 'E_OUT_OF_RANGE' });
    t.throws(() => kind.create(buffer, 192), {
      instanceOf: RangeError,
      code: 'E_REGION_TOO_SMALL',
      message: new RegExp(`needs ${kind.bytes} bytes`),
    });
    t.throws(() => kind.attach(buffer, 64), {
      instanceOf: WeftError,
      code: 'E_BAD_REGION',
      message: /create it there first/,
    });
    kind.create(buffer, 64);
    t.notThrows(() => kind.attach(buffer, 64));
    t.throws(() => kind.attach(buffer, 0), { code: 'E_BAD_REGION' });
  });
}

test('attaching the wrong kind of structure fails instead of corrupting it', (t) => {
  const buffer = new SharedArrayBuffer(WorkStealingDeque.bytesFor(8) + MpscQueue.bytesFor(8));
  const deque = WorkStealingDeque.create(buffer, 0, 8);
  deque.push(7);
  t.throws(() => MpscQueue.attach(buffer, 0), { code: 'E_BAD_REGION', message: /no MpscQueue/ });
  t.is(deque.pop(), 7);
});
