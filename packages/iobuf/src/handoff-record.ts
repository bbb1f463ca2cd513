/**
 * Hand-over records: how an IOBuf crosses to another thread without copying its bytes.
 *
 * `share()` writes the IOBuf's references — (block, offset, length) triples — into record blocks
 * of the same pool, takes one shared reference on each block for the record, and returns the head
 * record's versioned id. The descriptor that carries the id is small, plain data: postMessage it,
 * or put its numbers in shared memory.
 *
 * `fromShared` claims the head record with one CAS (RECORD → READING), so exactly one reader ever
 * takes a record: a second `fromShared` of the same descriptor, a stale id (the record was taken
 * and its block reused) or a forged one fails the CAS and reads nothing. The reader takes over the
 * record's block references, then frees the record blocks.
 *
 * A record block holds int32 words: [count, next record block or -1, then count triples]. Long
 * IOBufs chain several record blocks.
 */
import { ErrorCode, WeftError } from '@weft/shm';
import { BlockPhase, type BlockPool } from './block-pool.ts';
import type { IOBufPool } from './iobuf-pool.ts';

const NONE = -1;
const HEADER_WORDS = 2;

function triplesPerRecord(blocks: BlockPool): number {
  return Math.floor((blocks.blockSize / 4 - HEADER_WORDS) / 3);
}

/**
 * Writes `triples[first, end)` of `pool`'s thread into records, each giving the record a shared
 * reference on its block: a new one (share), or the thread's own hold handed over (`move`,
 * transfer). Returns the head record's id.
 */
export function writeRecord(
  pool: IOBufPool,
  triples: number[],
  first: number,
  end: number,
  move: boolean,
): number {
  const blocks = pool.blocks;
  const perRecord = triplesPerRecord(blocks);
  const count = (end - first) / 3;
  // Take every record block first: if the pool runs out, nothing has been referenced yet.
  const records: number[] = [];
  try {
    for (let r = Math.max(1, Math.ceil(count / perRecord)); r > 0; r--) {
      records.push(pool.allocate(BlockPhase.RECORD));
    }
  } catch (error) {
    for (const record of records) blocks.slots.free(record, BlockPhase.RECORD);
    throw error;
  }
  const words = blocks.words;
  for (let r = 0; r < records.length; r++) {
    const at = blocks.offsetOf(records[r] >>> 0) / 4;
    const from = first + 3 * r * perRecord;
    const to = Math.min(end, from + 3 * perRecord);
    words[at] = (to - from) / 3;
    words[at + 1] = r + 1 < records.length ? records[r + 1] >>> 0 : NONE;
    for (let i = from, w = at + HEADER_WORDS; i < to; i += 3, w += 3) {
      if (move) pool.handOver(triples[i]);
      else blocks.retain(triples[i]);
      words[w] = triples[i];
      words[w + 1] = triples[i + 1];
      words[w + 2] = triples[i + 2];
    }
  }
  return records[0];
}

/**
 * Claims the record `id`, appends its triples to `into` (each comes with the record's reference
 * on its block, which the caller takes over), makes this thread's views cover their blocks, and
 * frees the record blocks. Throws E_STALE_ID if the record is not there to claim (already taken,
 * stale or forged).
 */
export function readRecord(blocks: BlockPool, id: number, into: number[]): void {
  if (!blocks.slots.setPhase(id, BlockPhase.RECORD, BlockPhase.READING)) {
    throw new WeftError(
      ErrorCode.STALE_ID,
      `no shared IOBuf under descriptor record ${id}: it was already taken by fromShared, or ` +
        'the descriptor is stale or forged',
    );
  }
  walkRecord(blocks, id, into, true);
}

/**
 * Appends the triples of record `id` to `into` without taking the record: it stays for other
 * readers and for the one that finally takes it. The caller must know the record is not taken
 * meanwhile (it holds what keeps it alive); E_STALE_ID if it is not a record now.
 */
export function peekRecord(blocks: BlockPool, id: number, into: number[]): void {
  if (blocks.slots.phaseOf(id) !== BlockPhase.RECORD) {
    throw new WeftError(
      ErrorCode.STALE_ID,
      `no shared IOBuf under descriptor record ${id}: it was taken, or is stale or forged`,
    );
  }
  walkRecord(blocks, id, into, false);
}

// Reads a chain of record blocks into `into`; `free`: free each record block after reading it.
function walkRecord(blocks: BlockPool, id: number, into: number[], free: boolean): void {
  const perRecord = triplesPerRecord(blocks);
  let record = id >>> 0;
  let recordId = id;
  let phase: number = BlockPhase.READING;
  let highest = 0;
  for (;;) {
    blocks.cover(record);
    const words = blocks.words;
    const at = blocks.offsetOf(record) / 4;
    const count = words[at];
    const next = words[at + 1];
    if (
      !(count >= 0 && count <= perRecord) ||
      !(next === NONE || (next >= 0 && next < blocks.maxBlocks))
    ) {
      throw corrupt(record);
    }
    // Sized once, filled by index: pushing triple by triple costs 5× more (the array regrows).
    let filled = into.length;
    into.length = filled + 3 * count;
    for (let w = at + HEADER_WORDS; w < at + HEADER_WORDS + 3 * count; w += 3) {
      const block = words[w];
      const offset = words[w + 1];
      const length = words[w + 2];
      // The claim (or the caller's guarantee) proves this is a record a sharer wrote and nobody
      // took: its blocks are referenced. These checks only keep an overwritten record from naming
      // memory outside the pool's blocks.
      if (
        !(block >= 0 && block < blocks.maxBlocks) ||
        !(offset >= 0 && length > 0 && offset + length <= blocks.blockSize)
      ) {
        throw corrupt(record);
      }
      if (block > highest) highest = block;
      into[filled] = block;
      into[filled + 1] = offset;
      into[filled + 2] = length;
      filled += 3;
    }
    if (free) blocks.slots.free(recordId, phase);
    if (next === NONE) break;
    record = next;
    recordId = blocks.slots.idAt(record);
    phase = BlockPhase.RECORD;
  }
  blocks.cover(highest);
}

function corrupt(record: number): WeftError {
  return new WeftError(
    ErrorCode.BAD_REGION,
    `the hand-over record in block ${record} is corrupt: shared memory was overwritten`,
  );
}
