import {
  delimited,
  IOBuf,
  IOBufPool,
  IOPortal,
  type LengthPrefix,
  lengthPrefixed,
} from '@weft/iobuf';
import { ErrorCode } from '@weft/shm';
import test from 'ava';
import fc from 'fast-check';

const pool = IOBufPool.create({ blockSize: 256, maxBlocks: 4096, leakCheck: 'off' });

function encodeFrame(payload: Buffer, prefix: LengthPrefix): Buffer {
  const header = Buffer.alloc(prefix.bytes);
  const length = payload.length + (prefix.includesPrefix ? prefix.bytes : 0);
  const little = prefix.endian === 'little';
  if (prefix.bytes === 1) header.writeUInt8(length);
  else if (prefix.bytes === 2) little ? header.writeUInt16LE(length) : header.writeUInt16BE(length);
  else little ? header.writeUInt32LE(length) : header.writeUInt32BE(length);
  return Buffer.concat([header, payload]);
}

/** Splits `stream` at the given cut points (fractions of its length). */
function chunks(stream: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => Math.floor(c * stream.length)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let at = 0;
  for (const p of [...points, stream.length]) {
    if (p > at) out.push(stream.subarray(at, p));
    at = Math.max(at, p);
  }
  return out;
}

const prefixes = fc.record({
  bytes: fc.constantFrom(1 as const, 2 as const, 4 as const),
  endian: fc.constantFrom('big' as const, 'little' as const),
  includesPrefix: fc.boolean(),
  keepPrefix: fc.boolean(),
});

test('length-prefixed frames are cut whole over random chunk boundaries, every format', (t) => {
  fc.assert(
    fc.property(
      prefixes,
      fc.array(fc.uint8Array({ maxLength: 250 }), { maxLength: 30 }),
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 }),
      fc.integer({ min: 0, max: 70_000 }),
      (prefix, payloads, cuts, wrapAbove) => {
        const frames = payloads.map((p) => Buffer.from(p));
        const stream = Buffer.concat(frames.map((p) => encodeFrame(p, prefix)));
        const portal = new IOPortal(pool, { wrapAbove });
        const cutter = lengthPrefixed(prefix);
        const got: Buffer[] = [];
        for (const chunk of chunks(stream, cuts)) {
          portal.receive(chunk);
          for (let f = cutter.cut(portal); f !== null; f = cutter.cut(portal)) {
            got.push(f.toBuffer());
            f.release();
          }
        }
        const expected = frames.map((p) => (prefix.keepPrefix ? encodeFrame(p, prefix) : p));
        const ok =
          portal.length === 0 &&
          got.length === expected.length &&
          got.every((g, i) => g.equals(expected[i]));
        portal.release();
        return ok;
      },
    ),
    { numRuns: 300 },
  );
  t.is(pool.stats().userDataHere, 0);
});

test('delimited frames are cut over random chunk boundaries, the delimiter straddling them', (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.stringMatching(/^[a-z ]{0,40}$/), { maxLength: 20 }),
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 }),
      fc.boolean(),
      (lines, cuts, keepDelimiter) => {
        const stream = Buffer.from(lines.map((l) => `${l}\r\n`).join(''));
        const portal = new IOPortal(pool);
        const cutter = delimited('\r\n', { keepDelimiter });
        const into = new IOBuf(pool);
        const got: string[] = [];
        for (const chunk of chunks(stream, cuts)) {
          portal.receive(chunk);
          while (cutter.cut(portal, into) !== null) {
            got.push(into.toString());
            into.clear();
          }
        }
        const ok =
          portal.length === 0 &&
          got.join('|') === lines.map((l) => (keepDelimiter ? `${l}\r\n` : l)).join('|');
        portal.release();
        into.release();
        return ok;
      },
    ),
    { numRuns: 300 },
  );
  t.pass();
});

test('a cut into a given IOBuf appends to it and returns it', (t) => {
  const source = IOBuf.from(Buffer.from([0, 3, 1, 2, 3, 0, 1, 9]), pool);
  const into = IOBuf.from('>', pool);
  const cutter = lengthPrefixed({ bytes: 2 });
  t.is(cutter.cut(source, into), into);
  t.deepEqual([...into.toBuffer()], [62, 1, 2, 3]);
  t.is(cutter.cut(source, into), into);
  t.deepEqual([...into.toBuffer()], [62, 1, 2, 3, 9]);
  t.is(cutter.cut(source), null);
  source.release();
  into.release();
});

test('oversized and impossible lengths are errors; bad formats are TypeErrors', (t) => {
  const source = IOBuf.from(Buffer.from([0, 1, 0, 0, 0xff]), pool);
  t.throws(() => lengthPrefixed({ bytes: 4, maxLength: 1000 }).cut(source), {
    code: ErrorCode.FRAME_TOO_LARGE,
    message: /65536 bytes exceeds the limit of 1000/,
  });
  t.is(source.length, 5, 'nothing consumed');
  t.throws(
    () =>
      lengthPrefixed({ bytes: 1, includesPrefix: true }).cut(IOBuf.from(Buffer.from([0]), pool)),
    {
      code: ErrorCode.OUT_OF_RANGE,
      message: /less than its own 1 bytes/,
    },
  );
  const noEnd = IOBuf.from('x'.repeat(50), pool);
  t.throws(() => delimited('\n', { maxLength: 40 }).cut(noEnd), {
    code: ErrorCode.FRAME_TOO_LARGE,
  });
  t.is(delimited('\n', { maxLength: 60 }).cut(noEnd), null);
  for (const bad of [{ bytes: 3 }, { bytes: 4, endian: 'middle' }, null]) {
    t.throws(() => lengthPrefixed(bad as never), { instanceOf: TypeError });
  }
  t.throws(() => lengthPrefixed({ bytes: 2, maxLength: -1 }), { instanceOf: RangeError });
  t.throws(() => delimited(''), { instanceOf: TypeError });
  t.throws(() => delimited(300), { instanceOf: RangeError });
  t.throws(() => new IOPortal(pool, { wrapAbove: -5 }), { instanceOf: RangeError });
  source.release();
  noEnd.release();
});

test('a portal copies small chunks and wraps large ones without copying', (t) => {
  const portal = new IOPortal(pool, { wrapAbove: 1000 });
  const big = Buffer.alloc(5000, 7);
  portal.receive(Buffer.from('small')).receive(big);
  t.is(pool.stats().userDataHere, 1);
  t.is(portal.readUInt8(5), 7);
  t.true(portal.equals(Buffer.concat([Buffer.from('small'), big])));
  portal.release();
  t.is(pool.stats().userDataHere, 0);
  const byDefault = new IOPortal(pool);
  t.is(byDefault.wrapAbove, 4096);
  byDefault.receive(Buffer.alloc(4095)).receive(Buffer.alloc(4096));
  t.is(pool.stats().userDataHere, 1, 'only the 4 KiB chunk is wrapped');
  byDefault.release();
  for (const wrapAbove of [-1, 0.5, Number.NaN]) {
    t.throws(() => new IOPortal(pool, { wrapAbove }), { instanceOf: RangeError });
  }
});
