/**
 * One parser of the framing benchmark, in a process of its own (so that its heap and its GCs are
 * its own): `node bench/framing/child.ts <parser> <chunks> <passes>`. Prints one JSON line: per
 * pass the time, the JS-heap bytes allocated (estimated with v8.GCProfiler: the used heap's
 * growth between collections, summed) and the GC time.
 */
import { GCProfiler, getHeapStatistics } from 'node:v8';
import { type ParserName, parsers } from './parsers.ts';
import { makeWorkload } from './stream.ts';

/** One pass of a parser over the workload. */
export interface FramingPass {
  ms: number;
  allocatedBytes: number;
  gcMs: number;
}

const [name, chunks, passCount] = process.argv.slice(2);
const make = parsers[name as ParserName];
if (make === undefined) throw new Error(`no parser named ${name}`);
const { stream, chunkEnds, expected } = makeWorkload(Number(chunks));
const passes: FramingPass[] = [];
for (let pass = 0; pass < Number(passCount); pass++) {
  const parser = make();
  const profiler = new GCProfiler();
  const usedBefore = getHeapStatistics().used_heap_size;
  profiler.start();
  const start = performance.now();
  let at = 0;
  for (let i = 0; i < chunkEnds.length; i++) {
    parser.push(stream.subarray(at, chunkEnds[i]));
    at = chunkEnds[i];
  }
  const ms = performance.now() - start;
  const usedAfter = getHeapStatistics().used_heap_size;
  const { statistics } = profiler.stop();
  let allocatedBytes = 0;
  let gcMs = 0;
  let used = usedBefore;
  for (const gc of statistics) {
    allocatedBytes += gc.beforeGC.heapStatistics.usedHeapSize - used;
    used = gc.afterGC.heapStatistics.usedHeapSize;
    gcMs += gc.cost / 1000;
  }
  allocatedBytes += usedAfter - used;
  parser.close?.();
  const { checksum } = parser;
  const ok =
    name === 'harness'
      ? checksum.bytes === stream.length
      : checksum.count === expected.count &&
        checksum.bytes === expected.bytes &&
        checksum.xor === expected.xor;
  if (!ok)
    throw new Error(
      `${name}: wrong checksum ${JSON.stringify(checksum)}, expected ${JSON.stringify(expected)}`,
    );
  passes.push({ ms, allocatedBytes, gcMs });
}
console.log(JSON.stringify({ bytes: stream.length, messages: expected.count, passes }));
