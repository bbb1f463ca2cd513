import { IOBuf, IOBufPool } from '@weft/iobuf';
import { ErrorCode, WeftError } from '@weft/shm';
import test from 'ava';

// Small blocks, so that a few hundred bytes already span several.
const smallPool = () => IOBufPool.create({ blockSize: 256, maxBlocks: 256, leakCheck: 'off' });

/** Bytes 0, 1, 2, ... (mod 251, a prime, so block edges never line up with the pattern). */
const pattern = (length: number, start = 0) =>
  Buffer.from(Array.from({ length }, (_, i) => (start + i) % 251));

test('append copies bytes and text; length and content follow', (t) => {
  const pool = smallPool();
  const buf = new IOBuf(pool);
  buf
    .append(pattern(300))
    .append('héllo')
    .append(new Uint16Array([0x4142]));
  t.is(buf.length, 300 + 6 + 2);
  t.deepEqual(
    buf.toBuffer(),
    Buffer.concat([pattern(300), Buffer.from('héllo'), Buffer.from([0x42, 0x41])]),
  );
  t.true(buf.pieces >= 2, 'spans blocks');
  buf.release();
});

test('small appends extend one piece instead of adding references', (t) => {
  const pool = smallPool();
  const buf = new IOBuf(pool);
  for (let i = 0; i < 100; i++) buf.append(Uint8Array.of(i));
  t.is(buf.pieces, 1);
  t.deepEqual(
    [...buf.toBuffer()],
    Array.from({ length: 100 }, (_, i) => i),
  );
  buf.release();
});

test('text that does not fit the rest of a block continues in the next, characters whole', (t) => {
  const pool = smallPool();
  const buf = new IOBuf(pool);
  buf.append('x'.repeat(255)); // one byte left in the block
  buf.append('€€€'); // 3 bytes each: the first cannot fit in that byte
  t.is(buf.toString(), `${'x'.repeat(255)}€€€`);
  buf.release();
});

test('cutn, cutInto, popFront and popBack move or drop references, never bytes of the rest', (t) => {
  const pool = smallPool();
  const data = pattern(1000);
  const buf = IOBuf.from(data, pool);
  const head = buf.cutn(300);
  t.deepEqual(head.toBuffer(), data.subarray(0, 300));
  const target = IOBuf.from('>', pool);
  t.is(buf.cutInto(target, 200), 200);
  t.deepEqual(target.toBuffer(), Buffer.concat([Buffer.from('>'), data.subarray(300, 500)]));
  t.is(buf.popFront(100), 100);
  t.is(buf.popBack(150), 150);
  t.deepEqual(buf.toBuffer(), data.subarray(600, 850));
  t.is(buf.popBack(10_000), 250, 'up to n: what exists');
  t.is(buf.length, 0);
  t.is(buf.cutn(5).length, 0);
  for (const b of [buf, head, target]) b.release();
  t.is(pool.stats().heldHere, 1, 'only the write block is held');
});

test('cutInto itself rotates; appending an IOBuf to itself doubles it', (t) => {
  const pool = smallPool();
  const buf = IOBuf.from(pattern(600), pool);
  buf.cutInto(buf, 100);
  t.deepEqual(buf.toBuffer(), Buffer.concat([pattern(500, 100), pattern(100)]));
  buf.append(buf);
  t.is(buf.length, 1200);
  t.deepEqual(buf.toBuffer().subarray(600), buf.toBuffer().subarray(0, 600));
  buf.release();
});

test('IOBufs of different pools append and cut into each other by copying', (t) => {
  const one = smallPool();
  const other = smallPool();
  const a = IOBuf.from(pattern(500), one);
  const b = IOBuf.from('<', other);
  b.append(a);
  t.is(a.cutInto(b, 100), 100);
  t.deepEqual(b.toBuffer(), Buffer.concat([Buffer.from('<'), pattern(500), pattern(100)]));
  t.is(a.length, 400);
  a.release();
  b.release();
});

test('integer reads at any offset, straddling block edges, match Buffer', (t) => {
  const pool = smallPool();
  const data = Buffer.from(Array.from({ length: 1100 }, (_, i) => (i * 37 + 11) & 0xff));
  const buf = new IOBuf(pool);
  // Uneven pieces, so reads straddle piece and block edges in every way.
  for (let at = 0; at < data.length; ) {
    const n = 1 + ((at * 7) % 13);
    buf.append(data.subarray(at, at + n));
    at += n;
  }
  const reads = [
    ['readUInt8', 1],
    ['readInt8', 1],
    ['readUInt16BE', 2],
    ['readUInt16LE', 2],
    ['readInt16BE', 2],
    ['readInt16LE', 2],
    ['readUInt32BE', 4],
    ['readUInt32LE', 4],
    ['readInt32BE', 4],
    ['readInt32LE', 4],
    ['readBigUInt64BE', 8],
    ['readBigUInt64LE', 8],
    ['readBigInt64BE', 8],
    ['readBigInt64LE', 8],
    ['readFloatBE', 4],
    ['readFloatLE', 4],
    ['readDoubleBE', 8],
    ['readDoubleLE', 8],
  ] as const;
  let mismatches = 0;
  for (const [name, size] of reads) {
    for (let offset = 0; offset + size <= data.length; offset++) {
      const expected = data[name](offset);
      const actual = buf[name](offset);
      if (!Object.is(expected, actual)) mismatches++;
    }
    t.throws(() => buf[name](data.length - size + 1), {
      instanceOf: RangeError,
      code: ErrorCode.OUT_OF_RANGE,
      message: /beyond the end: the IOBuf holds 1100/,
    });
  }
  t.is(mismatches, 0);
  buf.release();
});

test('peek returns a view when contiguous and a copy when not; fetch always copies', (t) => {
  const pool = smallPool();
  const buf = IOBuf.from(pattern(600), pool);
  const view = buf.peek(100);
  t.is(view.buffer, pool.handle.data, 'a view into block memory');
  t.deepEqual(Buffer.from(view), pattern(100));
  const across = buf.peek(400);
  t.not(across.buffer, pool.handle.data, 'a copy');
  t.deepEqual(Buffer.from(across), pattern(400));
  t.deepEqual(Buffer.from(buf.fetch(10)), pattern(10));
  t.is(buf.length, 600, 'nothing consumed');
  t.is(buf.peek(0).length, 0);
  t.throws(() => buf.peek(601), { instanceOf: RangeError, code: ErrorCode.OUT_OF_RANGE });
  buf.release();
});

test('copyTo copies a range into a target at a position, and checks both ends', (t) => {
  const pool = smallPool();
  const buf = IOBuf.from(pattern(700), pool);
  const target = Buffer.alloc(310, 0xee);
  t.is(buf.copyTo(target, { offset: 250, length: 300, targetStart: 10 }), 300);
  t.deepEqual(target.subarray(10), pattern(300, 250));
  t.is(target[9], 0xee);
  t.throws(() => buf.copyTo(target, { offset: 500, length: 300 }), {
    code: ErrorCode.OUT_OF_RANGE,
  });
  t.throws(() => buf.copyTo(Buffer.alloc(5), { length: 6 }), { message: /room for 6 bytes/ });
  t.throws(() => buf.copyTo([] as never), { instanceOf: TypeError });
  buf.release();
});

test('indexOf and cutUntil find delimiters straddling pieces', (t) => {
  const pool = smallPool();
  const buf = new IOBuf(pool);
  const text = 'GET / HTTP/1.1\r\nHost: x\r\n\r\nbody';
  for (const ch of text) buf.append(ch).append(new IOBuf(pool)); // one piece per character
  for (let i = 0; i < 3; i++) buf.append(IOBuf.from('', pool));
  t.is(buf.indexOf('\r\n'), text.indexOf('\r\n'));
  t.is(buf.indexOf('\r\n', 15), text.indexOf('\r\n', 15));
  t.is(buf.indexOf('\r\n\r\n'), text.indexOf('\r\n\r\n'));
  t.is(buf.indexOf(0x48), text.indexOf('H'));
  t.is(buf.indexOf('nope'), -1);
  const line = buf.cutUntil('\r\n');
  t.is(line?.toString(), 'GET / HTTP/1.1');
  t.is(buf.cutUntil('\r\n')?.toString(), 'Host: x');
  t.is(buf.cutUntil('\r\n')?.toString(), '');
  t.is(buf.cutUntil('\r\n'), null, 'no delimiter: nothing cut');
  t.is(buf.toString(), 'body');
  line?.release();
  buf.release();
});

test('equals compares with IOBufs, bytes and text', (t) => {
  const pool = smallPool();
  const a = IOBuf.from(pattern(500), pool);
  const b = new IOBuf(pool).append(pattern(200)).append(pattern(300, 200));
  t.true(a.equals(b));
  t.true(a.equals(pattern(500)));
  t.false(a.equals(pattern(499)));
  t.false(a.equals(pattern(500, 1)));
  t.true(IOBuf.from('héllo', pool).equals('héllo'));
  t.throws(() => a.equals(5 as never), { instanceOf: TypeError });
  a.release();
  b.release();
});

test('slices are views of the pieces, capped for a writev', (t) => {
  const pool = smallPool();
  const buf = IOBuf.from(pattern(1000), pool);
  const slices = buf.slices();
  t.deepEqual(Buffer.concat(slices), pattern(1000));
  t.is(buf.slices(2).length, 2);
  buf.release();
});

test('user data is referenced, not copied, and handed back when the last reference goes', (t) => {
  const pool = smallPool();
  const mine = pattern(1000);
  let handedBack = 0;
  const buf = new IOBuf(pool)
    .append('[')
    .appendUserData(mine, () => handedBack++)
    .append(']');
  t.is(buf.peek(1).toString(), '[');
  t.deepEqual(buf.toBuffer().subarray(1, 1001), mine);
  const middle = buf.cutn(600);
  buf.release();
  t.is(handedBack, 0, 'the cut part still refers to it');
  t.is(pool.stats().userDataHere, 1);
  t.is(middle.readUInt8(10), mine[9]);
  middle.release();
  t.is(handedBack, 1);
  t.is(pool.stats().userDataHere, 0);
  let empty = 0;
  new IOBuf(pool).appendUserData(new Uint8Array(0), () => empty++).release();
  t.is(empty, 1, 'empty user data is handed back at once');
});

test('release gives every block back; any later use is E_RELEASED; release twice is harmless', (t) => {
  const pool = smallPool();
  const before = pool.stats();
  t.is(before.freeBlocks, before.maxBlocks);
  const buf = IOBuf.from(pattern(2000), pool);
  const held = pool.stats();
  t.true(held.heldHere > before.heldHere);
  t.is(held.freeBlocks, held.maxBlocks - held.blocksInUse);
  buf.release();
  buf.release();
  t.true(buf.released);
  pool.trim();
  t.is(pool.stats().blocksInUse, 0);
  t.is(pool.stats().freeBlocks, before.maxBlocks);
  const uses: [string, () => unknown][] = [
    ['length', () => buf.length],
    ['append', () => buf.append('x')],
    ['cutn', () => buf.cutn(1)],
    ['popFront', () => buf.popFront(1)],
    ['readUInt32BE', () => buf.readUInt32BE(0)],
    ['peek', () => buf.peek(0)],
    ['toString', () => buf.toString()],
    ['share', () => buf.share()],
    ['clear', () => buf.clear()],
    ['as a target', () => IOBuf.from('ab', pool).cutInto(buf, 1)],
  ];
  for (const [what, use] of uses) {
    t.throws(use, { instanceOf: WeftError, code: ErrorCode.RELEASED }, what);
  }
  {
    using scoped = IOBuf.from('scoped', pool);
    t.is(scoped.length, 6);
  }
});

test('bad sizes are RangeErrors; bad arguments TypeErrors; nothing changes', (t) => {
  const pool = smallPool();
  const buf = IOBuf.from(pattern(100), pool);
  for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '3', null]) {
    for (const [what, use] of [
      ['cutn', () => buf.cutn(bad as never)],
      ['popFront', () => buf.popFront(bad as never)],
      ['popBack', () => buf.popBack(bad as never)],
      ['peek', () => buf.peek(bad as never)],
      ['fetch', () => buf.fetch(bad as never)],
      ['read offset', () => buf.readUInt16BE(bad as never)],
      ['indexOf from', () => buf.indexOf('a', bad as never)],
    ] as const) {
      t.throws(
        use,
        { instanceOf: RangeError, code: ErrorCode.OUT_OF_RANGE, message: /whole number of bytes/ },
        what,
      );
    }
  }
  t.throws(() => buf.append(5 as never), {
    instanceOf: TypeError,
    code: ErrorCode.INVALID_ARGUMENT,
  });
  t.throws(() => buf.append({} as never), { instanceOf: TypeError });
  t.throws(() => buf.appendUserData('x' as never), { instanceOf: TypeError });
  t.throws(() => buf.appendUserData(new Uint8Array(1), 5 as never), { instanceOf: TypeError });
  t.throws(() => buf.cutInto({} as never, 1), { instanceOf: TypeError });
  t.throws(() => buf.indexOf(''), { instanceOf: TypeError, message: /non-empty/ });
  t.throws(() => buf.indexOf(256), { instanceOf: RangeError });
  t.throws(() => new IOBuf({} as never), { instanceOf: TypeError, message: /IOBufPool/ });
  t.deepEqual(buf.toBuffer(), pattern(100), 'unchanged');
  buf.release();
});

test('pool options are checked; an exhausted pool is E_CAPACITY and stays consistent', (t) => {
  for (const options of [
    { blockSize: 100 },
    { blockSize: 300 },
    { blockSize: 2 ** 21 },
    { maxBlocks: 0 },
    { maxBlocks: 1.5 },
    { growBlocks: 0 },
  ]) {
    t.throws(() => IOBufPool.create(options), { instanceOf: RangeError }, JSON.stringify(options));
  }
  t.throws(() => IOBufPool.create({ leakCheck: 'sometimes' as never }), {
    code: ErrorCode.INVALID_ARGUMENT,
  });
  t.throws(() => IOBufPool.attach({} as never), { instanceOf: TypeError });
  const pool = IOBufPool.create({ blockSize: 256, maxBlocks: 4, leakCheck: 'off' });
  const full = IOBuf.from(pattern(1024), pool); // all four blocks
  const more = new IOBuf(pool);
  const error = t.throws(() => more.append(pattern(10)), {
    instanceOf: WeftError,
    code: ErrorCode.CAPACITY,
  });
  t.regex(error.message, /all 4 are in use.*maxBlocks/);
  t.is(more.length, 0);
  t.deepEqual(full.toBuffer(), pattern(1024), 'the full IOBuf is intact');
  full.release();
  more.append(pattern(10));
  t.deepEqual(more.toBuffer(), pattern(10), 'blocks came back');
  more.release();
});

test('the default pool serves IOBufs made without one', (t) => {
  const buf = IOBuf.from('default');
  t.is(buf.pool, IOBufPool.default());
  t.is(buf.toString(), 'default');
  buf.release();
});
