/**
 * The RPC framing workload of shared/research/BASELINES.md (iobuf.mjs): a stream of
 * length-prefixed messages (4-byte big-endian length, then 0..255 payload bytes) cut into
 * chunks of 1..200 random bytes that ignore message boundaries. A parser cuts out every complete
 * message after each chunk and folds it into a checksum: the count, the payload bytes, and the
 * xor of the first payload bytes. The stream is the same for every variant (a seeded generator),
 * so the checksums must agree.
 */

/** What every parser computes over the messages it cut. */
export interface Checksum {
  count: number;
  bytes: number;
  xor: number;
}

/** The workload: the whole stream, where each chunk ends, and the checksum of its messages. */
export interface Workload {
  stream: Buffer;
  chunkEnds: Int32Array;
  expected: Checksum;
}

/** xorshift32: the same numbers on every run. */
function generator(seed: number): () => number {
  let state = seed;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
}

/** `chunkCount` chunks of 1..200 bytes, and the messages that fill them. */
export function makeWorkload(chunkCount: number): Workload {
  const next = generator(0x2545f491);
  const chunkEnds = new Int32Array(chunkCount);
  let total = 0;
  for (let i = 0; i < chunkCount; i++) {
    total += 1 + (next() % 200);
    chunkEnds[i] = total;
  }
  const stream = Buffer.allocUnsafe(total);
  const expected: Checksum = { count: 0, bytes: 0, xor: 0 };
  let at = 0;
  while (at < total) {
    const length = next() % 256;
    const end = at + 4 + length;
    if (end <= total) {
      expected.count++;
      expected.bytes += length;
    }
    for (let k = 0; k < 4 && at < total; k++, at++) stream[at] = (length >>> (24 - 8 * k)) & 0xff;
    for (let k = 0; k < length && at < total; k++, at++) stream[at] = next() & 0xff;
    if (end <= total && length > 0) expected.xor ^= stream[end - length];
  }
  return { stream, chunkEnds, expected };
}
