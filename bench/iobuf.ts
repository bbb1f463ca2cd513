/**
 * `pnpm bench iobuf`: weft's IOBuf against what Node users cut framed streams with today, in one
 * run.
 *
 * Rows:
 * - RPC framing (shared/research/BASELINES.md, section 4): 1,000,000 chunks of 1..200 random
 *   bytes carrying 4-byte length-prefixed messages; every complete message is cut out after each
 *   chunk and checksummed. Each parser runs in a child process of its own (bench/framing/), the
 *   first pass is warm-up and the median of the others is reported: throughput, messages per
 *   second, JS-heap bytes allocated per chunk (with and without the harness's own chunk views)
 *   and GC time. weft runs three times: reusing one IOBuf for the frames, with a new IOBuf per
 *   message released after use (the convenient way), and wrapping the chunks instead of copying.
 * - Hand-over: 1 MiB IOBufs handed to another thread — `transfer()` or `share()` here,
 *   `IOBuf.fromShared()` there — against structuredClone of the same 1 MiB (the copy a
 *   postMessage makes), each without the wake-up. The blocks in use are counted to show no data
 *   block was added (zero bytes copied), and the taker checks the content.
 * - IOPortal: receiving a chunk by copying it into blocks or by wrapping it as user data, at
 *   sizes from 1 KiB to 256 KiB: the crossover sets IOPortal's `wrapAbove` default.
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { IOBuf, IOBufPool, IOPortal, type SharedIOBuf } from '@weft/iobuf';
import type { FramingPass } from './framing/child.ts';
import type { ParserName } from './framing/parsers.ts';
import { nsPerOp, summarize, type Timing } from './harness/measure.ts';
import { byMode } from './harness/mode.ts';
import { Progress } from './harness/progress.ts';
import { publish, type Row } from './harness/report.ts';
import type { TakerBatch, TakerTimes } from './workers/iobuf-taker.ts';

const CHUNKS = 1_000_000;
const PASSES = byMode(4, 8); // the first is warm-up
const BATCH = 32;
const HANDOVER_ROUNDS = byMode(9, 25);
const HANDOVER_WARMUP = 6; // rounds: both threads' code is compiled by then
const MIB = 1024 * 1024;
const PORTAL_SIZES = [256, 1024, 4096, 16_384, 65_536, 262_144];
const PEERS: ParserName[] = ['Buffer.concat', 'bl', 'Buffer[] + cursor', 'linear copy-in buffer'];

const progress = new Progress('bench iobuf');

/** What one parser measured: medians over its timed passes. */
interface Framing {
  mbPerSec: Timing;
  messagesPerSec: number;
  allocatedPerChunk: number;
  gcMs: number;
}

function runParser(name: ParserName): Framing {
  progress.update(`framing: ${name}`, true);
  const child = spawnSync(
    process.execPath,
    [fileURLToPath(new URL('./framing/child.ts', import.meta.url)), name, `${CHUNKS}`, `${PASSES}`],
    { encoding: 'utf8', maxBuffer: 1 << 20 },
  );
  if (child.status !== 0) throw new Error(`framing child ${name} failed:\n${child.stderr}`);
  const { bytes, messages, passes } = JSON.parse(child.stdout) as {
    bytes: number;
    messages: number;
    passes: FramingPass[];
  };
  const timed = passes.slice(1);
  const ms = summarize(timed.map((pass) => pass.ms));
  const mbPerSec = (passMs: number) => bytes / 1e6 / (passMs / 1e3);
  return {
    mbPerSec: { median: mbPerSec(ms.median), min: mbPerSec(ms.max), max: mbPerSec(ms.min) },
    messagesPerSec: messages / (ms.median / 1e3),
    allocatedPerChunk: summarize(timed.map((pass) => pass.allocatedBytes)).median / CHUNKS,
    gcMs: summarize(timed.map((pass) => pass.gcMs)).median,
  };
}

function framingRows(): Row[] {
  const harness = runParser('harness');
  const weft = runParser('weft');
  const weftPerMessage = runParser('weft, a new IOBuf per message');
  const weftWrapped = runParser('weft, chunks wrapped');
  const peers = PEERS.map((name) => ({ name, ...runParser(name) }));
  const label = '1M chunks of 1..200 B';
  const peersBy = (figure: (framing: Framing) => number) =>
    peers.map((peer) => ({ name: peer.name, value: figure(peer) }));
  const beyondHarness = (framing: Framing) =>
    Math.max(0, framing.allocatedPerChunk - harness.allocatedPerChunk);
  return [
    {
      name: `framing, ${label}: throughput`,
      value: weft.mbPerSec.median,
      range: { min: weft.mbPerSec.min, max: weft.mbPerSec.max },
      unit: 'MB/s',
      better: 'higher',
      goal: 1500,
      peers: peersBy((framing) => framing.mbPerSec.median),
      note:
        `the harness alone (chunks handed over, nothing parsed) runs at ` +
        `${harness.mbPerSec.median.toFixed(0)} MB/s: the ceiling of every parser here`,
    },
    {
      name: `framing, ${label}: messages cut`,
      value: weft.messagesPerSec,
      unit: 'msgs/s',
      better: 'higher',
      peers: peersBy((framing) => framing.messagesPerSec),
    },
    {
      name: `framing, ${label}: JS heap allocated`,
      value: weft.allocatedPerChunk,
      unit: 'B/chunk',
      better: 'lower',
      goal: 64,
      peers: peersBy((framing) => framing.allocatedPerChunk),
      note:
        `as BASELINES.md measures it, with the harness's own chunk views ` +
        `(${harness.allocatedPerChunk.toFixed(0)} B/chunk alone)`,
    },
    {
      name: `framing, ${label}: JS heap allocated beyond the harness`,
      value: beyondHarness(weft),
      unit: 'B/chunk',
      better: 'lower',
      goal: 64,
      peers: peersBy(beyondHarness),
    },
    {
      name: `framing, ${label}: GC time`,
      value: weft.gcMs,
      unit: 'ms',
      better: 'lower',
      peers: peersBy((framing) => framing.gcMs),
    },
    {
      name: `framing, ${label}, a new IOBuf per message: throughput`,
      value: weftPerMessage.mbPerSec.median,
      range: { min: weftPerMessage.mbPerSec.min, max: weftPerMessage.mbPerSec.max },
      unit: 'MB/s',
      better: 'higher',
      peers: peersBy((framing) => framing.mbPerSec.median),
      note:
        `each frame its own IOBuf, released after use, the leak net watching each; JS heap ` +
        `${weftPerMessage.allocatedPerChunk.toFixed(0)} B/chunk, GC ${weftPerMessage.gcMs.toFixed(1)} ms`,
    },
    {
      name: `framing, ${label}, chunks wrapped, not copied: throughput`,
      value: weftWrapped.mbPerSec.median,
      range: { min: weftWrapped.mbPerSec.min, max: weftWrapped.mbPerSec.max },
      unit: 'MB/s',
      better: 'higher',
      peers: [{ name: 'weft, chunks copied', value: weft.mbPerSec.median }],
      note:
        `IOPortal wrapAbove: 0, every chunk user data; JS heap ` +
        `${weftWrapped.allocatedPerChunk.toFixed(0)} B/chunk (copied: ` +
        `${weft.allocatedPerChunk.toFixed(0)})`,
    },
  ];
}

/** The sending side of a hand-over row, and what the taker measured. */
interface Handover {
  give: Timing;
  take: Timing;
  release: Timing;
}

/**
 * Rounds of BATCH 1 MiB IOBufs handed to the taker worker with `give` (share or transfer), timed
 * here; the taker times taking them up and releasing them. Checks that giving added no data
 * block (a copy would add 128 per IOBuf) and that every block is back afterwards.
 */
async function handover(give: (buf: IOBuf) => SharedIOBuf): Promise<Handover> {
  const pool = IOBufPool.create({ leakCheck: 'off' });
  const content = new Uint8Array(MIB);
  for (let i = 0; i < MIB; i++) content[i] = (i + 1) & 0xff;
  const taker = new Worker(new URL('./workers/iobuf-taker.ts', import.meta.url));
  const giveNs: number[] = [];
  const take: number[] = [];
  const release: number[] = [];
  try {
    for (let round = 0; round < HANDOVER_WARMUP + HANDOVER_ROUNDS; round++) {
      const bufs = Array.from({ length: BATCH }, () => IOBuf.from(content, pool));
      const blocksBefore = pool.stats().blocksInUse;
      const start = process.hrtime.bigint();
      const descriptors = bufs.map(give);
      const gaveNs = Number(process.hrtime.bigint() - start) / BATCH;
      const added = pool.stats().blocksInUse - blocksBefore;
      if (added !== 0) throw new Error(`handing over took ${added} data blocks`);
      const batch: TakerBatch = { descriptors, first: content[0], last: content[MIB - 1] };
      taker.postMessage(batch);
      const [times] = (await once(taker, 'message')) as [TakerTimes];
      for (const buf of bufs) buf.release();
      if (round < HANDOVER_WARMUP) continue;
      giveNs.push(gaveNs);
      take.push(times.takeNs);
      release.push(times.releaseNs);
    }
    taker.postMessage(null);
    await once(taker, 'message');
  } finally {
    await taker.terminate();
  }
  pool.trim();
  const left = pool.stats();
  if (left.blocksInUse !== 0 || left.recordsInFlight !== 0) {
    throw new Error(`blocks left in use after the hand-overs: ${JSON.stringify(left)}`);
  }
  return { give: summarize(giveNs), take: summarize(take), release: summarize(release) };
}

async function handoverRows(): Promise<Row[]> {
  progress.update('hand-over of 1 MiB', true);
  const shared = await handover((buf) => buf.share());
  const transferred = await handover((buf) => buf.transfer());
  const plain = new Uint8Array(MIB).fill(7);
  const clone = nsPerOp(
    (n) => {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += structuredClone(plain)[i & 1023];
      return sum;
    },
    200,
    HANDOVER_ROUNDS,
  );
  const peers = [{ name: 'structuredClone (postMessage copy)', value: clone.median }];
  const row = (how: string, figures: Handover): Row => ({
    name: `1 MiB IOBuf to another thread: ${how} + fromShared`,
    value: figures.give.median + figures.take.median,
    range: {
      min: figures.give.min + figures.take.min,
      max: figures.give.max + figures.take.max,
    },
    unit: 'ns',
    better: 'lower',
    goal: 2000,
    peers,
    note:
      `${how} ${figures.give.median.toFixed(0)} ns on this thread, fromShared ` +
      `${figures.take.median.toFixed(0)} ns on the other, without the wake-up; release there ` +
      `${figures.release.median.toFixed(0)} ns more; no data block added (0 bytes copied)`,
  });
  return [row('transfer()', transferred), row('share()', shared)];
}

/** ns to receive one chunk of `size` bytes into an IOPortal and clear it, with `wrapAbove`. */
function receiveNs(size: number, wrapAbove: number): number {
  const pool = IOBufPool.create({ leakCheck: 'off' });
  const portal = new IOPortal(pool, { wrapAbove });
  const chunk = new Uint8Array(size).fill(3);
  const iterations = Math.max(200, Math.floor((64 * MIB) / size));
  const timing = nsPerOp(
    (n) => {
      for (let i = 0; i < n; i++) portal.receive(chunk).clear();
      return portal.length;
    },
    iterations,
    byMode(5, 9),
  );
  portal.release();
  return timing.median;
}

function portalRows(): Row[] {
  return PORTAL_SIZES.map((size) => {
    progress.update(`portal ${size} B`, true);
    return {
      name: `portal: receive a ${size < 1024 ? `${size} B` : `${size / 1024} KiB`} chunk by copying`,
      value: receiveNs(size, Number.MAX_SAFE_INTEGER),
      unit: 'ns',
      better: 'lower',
      peers: [{ name: 'wrapping it (user data)', value: receiveNs(size, 0) }],
    };
  });
}

const rows = [...framingRows(), ...(await handoverRows()), ...portalRows()];
progress.done();
publish({ name: 'iobuf', title: 'bench/iobuf: weft IOBuf vs Buffer.concat, bl and friends', rows });
