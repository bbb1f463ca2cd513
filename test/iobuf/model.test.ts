// IOBufs against a plain-Buffer model: random operation sequences, content equal after each step.

import { IOBuf, IOBufPool } from '@weft/iobuf';
import test from 'ava';
import fc from 'fast-check';

const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));

// Operations on two IOBufs (a, b) and their models; `which` picks the one acted on.
const operation = fc.oneof(
  fc.record({ op: fc.constant('append' as const), which: fc.boolean(), data: bytes(700) }),
  fc.record({
    op: fc.constant('appendText' as const),
    which: fc.boolean(),
    text: fc.string({ maxLength: 200 }),
  }),
  fc.record({ op: fc.constant('appendOther' as const), which: fc.boolean() }),
  fc.record({ op: fc.constant('userData' as const), which: fc.boolean(), data: bytes(600) }),
  fc.record({ op: fc.constant('cutInto' as const), which: fc.boolean(), n: fc.nat(900) }),
  fc.record({ op: fc.constant('cutn' as const), which: fc.boolean(), n: fc.nat(900) }),
  fc.record({ op: fc.constant('popFront' as const), which: fc.boolean(), n: fc.nat(900) }),
  fc.record({ op: fc.constant('popBack' as const), which: fc.boolean(), n: fc.nat(900) }),
  fc.record({ op: fc.constant('cutUntil' as const), which: fc.boolean(), byte: fc.nat(255) }),
  fc.record({ op: fc.constant('read' as const), which: fc.boolean(), at: fc.nat(2000) }),
  fc.record({ op: fc.constant('clear' as const), which: fc.boolean() }),
  fc.record({ op: fc.constant('handOff' as const), which: fc.boolean(), move: fc.boolean() }),
);

test('random operation sequences keep every IOBuf equal to a Buffer model; all blocks come back', (t) => {
  const pool = IOBufPool.create({ blockSize: 256, maxBlocks: 4096, leakCheck: 'off' });
  fc.assert(
    fc.property(fc.array(operation, { maxLength: 60 }), (ops) => {
      const bufs = [new IOBuf(pool), new IOBuf(pool)];
      const models = [Buffer.alloc(0), Buffer.alloc(0)];
      const pick = (which: boolean) => (which ? 0 : 1);
      for (const o of ops) {
        const k = pick(o.which);
        const other = 1 - k;
        const buf = bufs[k];
        switch (o.op) {
          case 'append':
            buf.append(o.data);
            models[k] = Buffer.concat([models[k], o.data]);
            break;
          case 'appendText':
            buf.append(o.text);
            models[k] = Buffer.concat([models[k], Buffer.from(o.text)]);
            break;
          case 'appendOther':
            buf.append(bufs[other]);
            models[k] = Buffer.concat([models[k], models[other]]);
            break;
          case 'userData':
            buf.appendUserData(o.data);
            models[k] = Buffer.concat([models[k], o.data]);
            break;
          case 'cutInto': {
            const n = buf.cutInto(bufs[other], o.n);
            if (n !== Math.min(o.n, models[k].length)) return false;
            models[other] = Buffer.concat([models[other], models[k].subarray(0, n)]);
            models[k] = models[k].subarray(n);
            break;
          }
          case 'cutn': {
            const cut = buf.cutn(o.n);
            const expected = models[k].subarray(0, Math.min(o.n, models[k].length));
            const same = cut.equals(expected);
            cut.release();
            if (!same) return false;
            models[k] = models[k].subarray(expected.length);
            break;
          }
          case 'popFront':
            models[k] = models[k].subarray(buf.popFront(o.n));
            break;
          case 'popBack':
            models[k] = models[k].subarray(0, models[k].length - buf.popBack(o.n));
            break;
          case 'cutUntil': {
            const at = models[k].indexOf(o.byte);
            const cut = buf.cutUntil(o.byte);
            if ((cut === null) !== at < 0) return false;
            if (cut !== null) {
              const same = cut.equals(models[k].subarray(0, at));
              cut.release();
              if (!same) return false;
              models[k] = models[k].subarray(at + 1);
            }
            break;
          }
          case 'read': {
            if (o.at + 4 <= models[k].length) {
              if (buf.readUInt32LE(o.at) !== models[k].readUInt32LE(o.at)) return false;
            } else if (o.at < models[k].length) {
              if (buf.readUInt8(o.at) !== models[k][o.at]) return false;
            }
            break;
          }
          case 'clear':
            buf.clear();
            models[k] = Buffer.alloc(0);
            break;
          case 'handOff': {
            // The IOBuf is replaced by what a hand-over to this same thread gives back.
            const shared = o.move ? buf.transfer() : buf.share();
            if (buf.released !== o.move) return false;
            bufs[k] = IOBuf.fromShared(shared);
            buf.release();
            break;
          }
        }
        if (!bufs[0].equals(models[0]) || !bufs[1].equals(models[1])) return false;
      }
      for (const buf of bufs) buf.release();
      const stats = pool.stats();
      return stats.heldHere <= 1 && stats.userDataHere === 0 && stats.recordsInFlight === 0; // 1: the write block
    }),
    { numRuns: 300 },
  );
  pool.trim();
  t.is(pool.stats().blocksInUse, 0);
});

test('1,000,000 append and cut cycles leave the pool where it started', (t) => {
  t.timeout(60_000);
  const pool = IOBufPool.create({ leakCheck: 'off' });
  const source = new IOBuf(pool);
  const frame = new IOBuf(pool);
  const chunk = Buffer.from(Array.from({ length: 200 }, (_, i) => i));
  const before = pool.stats();
  let checksum = 0;
  for (let i = 0; i < 1_000_000; i++) {
    source.append(chunk.subarray(0, 1 + (i % 200)));
    source.cutInto(frame, 1 + ((i * 7) % 200)); // over each 200 cycles, as much as appended
    checksum = (checksum + frame.readUInt8(0)) | 0;
    frame.clear();
  }
  source.release();
  frame.release();
  pool.trim();
  const after = pool.stats();
  t.is(after.blocksInUse, 0);
  t.is(after.heldHere, 0);
  t.is(before.blocksInUse, 0);
  t.true(
    after.mappedBlocks <= 256,
    `a working set, not growth: ${after.mappedBlocks} blocks mapped`,
  );
  t.not(checksum, 0);
});
