import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { IOBuf, IOBufPool, type SharedIOBuf } from '@weft/iobuf';
import { ErrorCode } from '@weft/shm';
import test from 'ava';
import { runWorkers } from '../helpers/workers.ts';
import { digest } from './digest.ts';

const worker = (file: string) => new URL(`./workers/${file}`, import.meta.url);

interface PeerResult {
  faults: string[];
  replies: SharedIOBuf[];
  replyDigests: string[];
}

test('IOBufs cross to two workers and back without copies: content equal, every block returned', async (t) => {
  t.timeout(60_000);
  // Small blocks: a 64 KiB IOBuf is 256 pieces, more than one hand-over record holds.
  const pool = IOBufPool.create({ blockSize: 256, maxBlocks: 16_384, leakCheck: 'off' });
  const sizes = [0, 1, 255, 256, 1000, 65_536, 100_000];
  const bufs = sizes.map((size) => {
    const buf = new IOBuf(pool);
    // Pieces of uneven size, and one of user data (share copies that part).
    const data = randomBytes(size);
    buf.append(data.subarray(0, size >> 1)).appendUserData(data.subarray(size >> 1));
    return buf;
  });
  const digests = bufs.map((b) => digest(b.toBuffer()));
  const jobs = ['a', 'b'].map((tag) => ({
    script: worker('share-peer.ts'),
    data: { shared: bufs.map((b) => b.share()), digests, tag },
  }));
  // (Long IOBufs take a chain of records.)
  t.true(pool.stats().recordsInFlight > 2 * sizes.length);
  const results = await runWorkers<PeerResult>(jobs, 50_000);
  for (const buf of bufs) buf.release();
  for (const [w, result] of results.entries()) {
    t.deepEqual(result.faults, [], `worker ${w}`);
    for (let i = 0; i < result.replies.length; i++) {
      const back = IOBuf.fromShared(result.replies[i]);
      t.is(digest(back.toBuffer()), result.replyDigests[i]);
      t.true(back.length > sizes[i]);
      back.release();
    }
  }
  pool.trim();
  const stats = pool.stats();
  t.is(stats.recordsInFlight, 0);
  t.is(stats.blocksInUse, 0, 'every block is free again');
  t.is(stats.heldHere, 0);
});

test('transfer moves IOBufs to a worker and back: the sender is released, content equal, blocks returned', async (t) => {
  t.timeout(60_000);
  const pool = IOBufPool.create({ blockSize: 256, maxBlocks: 16_384, leakCheck: 'off' });
  const sizes = [0, 1, 256, 5000, 100_000];
  const bufs = sizes.map((size) => {
    const data = randomBytes(size);
    return new IOBuf(pool)
      .append(data.subarray(0, size >> 1))
      .appendUserData(data.subarray(size >> 1));
  });
  const digests = bufs.map((b) => digest(b.toBuffer()));
  const shared = bufs.map((b) => b.transfer());
  t.true(bufs.every((b) => b.released));
  t.throws(() => bufs[1].length, { code: ErrorCode.RELEASED });
  const [result] = await runWorkers<PeerResult>(
    [{ script: worker('share-peer.ts'), data: { shared, digests, tag: 'm', transfer: true } }],
    50_000,
  );
  t.deepEqual(result.faults, []);
  for (let i = 0; i < result.replies.length; i++) {
    const back = IOBuf.fromShared(result.replies[i]);
    t.is(digest(back.toBuffer()), result.replyDigests[i]);
    back.release();
  }
  pool.trim();
  t.is(pool.stats().recordsInFlight, 0);
  t.is(pool.stats().blocksInUse, 0, 'every block is free again');
});

test('transfer keeps blocks that other IOBufs of this thread still refer to', (t) => {
  const pool = IOBufPool.create({ blockSize: 256, leakCheck: 'off' });
  const whole = IOBuf.from(Buffer.alloc(1000, 7), pool);
  const part = whole.cutn(300); // shares a block with what is left of `whole`
  const taken = IOBuf.fromShared(part.transfer());
  t.true(part.released);
  t.true(taken.equals(Buffer.alloc(300, 7)));
  t.true(whole.equals(Buffer.alloc(700, 7)), 'the other IOBuf is intact');
  taken.release();
  t.true(whole.equals(Buffer.alloc(700, 7)), 'and stays so after the taken IOBuf goes');
  whole.release();
  pool.trim();
  t.is(pool.stats().blocksInUse, 0);
});

test('share and transfer on a full pool are E_CAPACITY and leave the IOBuf as it was', (t) => {
  const pool = IOBufPool.create({ blockSize: 256, maxBlocks: 4, leakCheck: 'off' });
  const full = IOBuf.from(Buffer.alloc(1024, 9), pool); // every block: none left for a record
  for (const handOff of [() => full.share(), () => full.transfer()]) {
    t.throws(handOff, { code: ErrorCode.CAPACITY });
    t.false(full.released);
    t.true(full.equals(Buffer.alloc(1024, 9)));
  }
  t.is(pool.stats().recordsInFlight, 0);
  full.popFront(256); // frees a block (kept in this thread's stash): a record fits now
  const taken = IOBuf.fromShared(full.transfer());
  t.true(taken.equals(Buffer.alloc(768, 9)));
  taken.release();
  pool.trim();
  t.is(pool.stats().blocksInUse, 0);
});

test('a worker that ends while holding blocks gives them all back, however it ends', async (t) => {
  t.timeout(30_000);
  const pool = IOBufPool.create({ blockSize: 256, maxBlocks: 1024, leakCheck: 'off' });
  for (const ending of ['return', 'exit', 'throw'] as const) {
    const buf = IOBuf.from(Buffer.alloc(2000, 9), pool);
    const shared = buf.share();
    const holder = new Worker(worker('exit-holding.ts'), {
      workerData: { handle: pool.handle, shared, ending },
    });
    holder.on('error', () => {}); // the 'throw' ending
    const code = await Promise.race([
      new Promise<number>((resolve) => holder.once('exit', resolve)),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no exit')), 20_000)),
    ]);
    t.is(code, ending === 'throw' ? 1 : 0, ending);
    buf.release();
    pool.trim();
    t.is(pool.stats().blocksInUse, 0, `${ending}: every block is free again`);
    t.is(pool.stats().recordsInFlight, 0);
  }
});

test('a descriptor is taken up once: two threads racing for it, one wins', async (t) => {
  t.timeout(60_000);
  const pool = IOBufPool.create({ leakCheck: 'off' });
  for (let round = 0; round < 20; round++) {
    const buf = IOBuf.from(randomBytes(5000), pool);
    const shared = buf.share();
    buf.release();
    const gate = new Int32Array(new SharedArrayBuffer(8));
    const job = { script: worker('share-taker.ts'), data: { shared, gate } };
    const running = runWorkers<{ won: boolean; code?: string; length?: number }>(
      [job, job],
      30_000,
    );
    while (Atomics.load(gate, 1) < 2) await new Promise((r) => setTimeout(r, 1));
    Atomics.store(gate, 0, 1);
    Atomics.notify(gate, 0);
    const results = await running;
    t.is(results.filter((r) => r.won).length, 1, `round ${round}: exactly one winner`);
    const loser = results.find((r) => !r.won);
    t.is(loser?.code, ErrorCode.STALE_ID);
    t.is(results.find((r) => r.won)?.length, 5000);
  }
  pool.trim();
  t.is(pool.stats().blocksInUse, 0);
});

test('forged, stale and malformed descriptors are errors that read nothing', (t) => {
  const pool = IOBufPool.create({ leakCheck: 'off' });
  const buf = IOBuf.from('shared once', pool);
  const shared = buf.share();
  const again = IOBuf.fromShared(shared);
  t.is(again.toString(), 'shared once');
  t.throws(() => IOBuf.fromShared(shared), { code: ErrorCode.STALE_ID, message: /already taken/ });
  const data = IOBuf.from('x'.repeat(100), pool); // reuses record blocks
  for (const record of [shared.record, shared.record + 2 ** 32, 2 ** 32 + 5, 2 ** 52, 1, -1, 0.5]) {
    t.throws(
      () => IOBuf.fromShared({ ...shared, record }),
      { code: ErrorCode.STALE_ID },
      String(record),
    );
  }
  t.throws(() => IOBuf.fromShared(null as never), { instanceOf: TypeError });
  t.throws(() => IOBuf.fromShared({ pool: shared.pool } as never), { instanceOf: TypeError });
  t.throws(
    () =>
      IOBuf.fromShared({
        ...shared,
        pool: { control: new SharedArrayBuffer(64), data: shared.pool.data },
      }),
    {
      code: ErrorCode.BAD_REGION,
    },
  );
  // A known pool's id with a foreign data buffer: this thread's view of the pool is used, and the
  // foreign buffer is never read.
  t.throws(
    () =>
      IOBuf.fromShared({
        ...shared,
        pool: { control: shared.pool.control, data: new SharedArrayBuffer(64) },
      }),
    { code: ErrorCode.STALE_ID },
  );
  t.is(data.toString(), 'x'.repeat(100), 'nothing was disturbed');
  for (const b of [buf, again, data]) b.release();
  pool.trim();
  t.is(pool.stats().blocksInUse, 0);
  t.is(pool.stats().recordsInFlight, 0);
});

test('a thread attaching a handle whose buffers are of two pools gets E_BAD_REGION', async (t) => {
  const one = IOBufPool.create({ leakCheck: 'off' });
  const other = IOBufPool.create({ leakCheck: 'off' });
  const mixed = { control: one.handle.control, data: other.handle.data };
  const run = (data: unknown) =>
    runWorkers<string>([{ script: worker('attach-mismatch.ts'), data }], 20_000);
  t.deepEqual(await run(mixed), [ErrorCode.BAD_REGION]);
  t.deepEqual(await run(one.handle), ['attached']);
});

test('an IOBuf collected without release is reported, and its blocks return to the pool', async (t) => {
  t.timeout(30_000);
  const { setFlagsFromString } = await import('node:v8');
  const { runInNewContext } = await import('node:vm');
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const pool = IOBufPool.create({ blockSize: 256, maxBlocks: 64 });
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => warnings.push(warning);
  process.on('warning', onWarning);
  (() => {
    // Released IOBufs around it pass through the leak net's nursery (flushed by size here) and
    // are never reported.
    for (let i = 0; i < 600; i++) IOBuf.from('released', pool).release();
    IOBuf.from('y'.repeat(2000), pool); // never released
    for (let i = 0; i < 600; i++) IOBuf.from('released', pool).release();
  })();
  for (let i = 0; i < 20 && pool.stats().leaked === 0; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
  }
  process.off('warning', onWarning);
  t.is(pool.stats().leaked, 1);
  pool.trim();
  t.is(pool.stats().blocksInUse, 0, 'the net returned the blocks');
  t.true(warnings.some((w) => /garbage-collected without release/.test(w.message)));
});

test("leakCheck 'throw' makes a leaked IOBuf an uncaught E_LEAKED error", async (t) => {
  t.timeout(30_000);
  const { Worker } = await import('node:worker_threads');
  const thrower = new Worker(worker('leak-thrower.ts'));
  const error = await new Promise<Error & { code?: string }>((resolve, reject) => {
    thrower.once('error', resolve);
    thrower.once('exit', () => reject(new Error('the worker exited without an error')));
  });
  t.is(error.code, ErrorCode.LEAKED);
});
