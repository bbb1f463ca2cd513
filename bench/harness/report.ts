/**
 * The report of a benchmark: one table on stdout, the same figures as JSON in bench/results/.
 *
 * Every row is one weft figure set against what a Node user would use instead (its peers), run
 * in the same process so both saw the same machine. The ratio column always reads "how many
 * times better weft is", whichever way the unit points: peer / weft for costs (ns/op, µs),
 * weft / peer for rates (items/s). Above 1 weft wins; below 1 the peer does. A row may carry a
 * goal (the figure the design promises) and is marked ✓ or ✗ against it.
 *
 * Benchmarks with parallel figures pass the CPU probe, printed above the table, because on these
 * shared machines a parallel figure is only meaningful next to the parallelism the box gave.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CpuProbe, describeProbe } from './cpu-probe.ts';
import { benchMode } from './mode.ts';

/** A competitor's figure, in the row's unit. */
export interface Peer {
  name: string;
  value: number;
}

/** One line of the table. */
export interface Row {
  name: string;
  /** weft's figure (the median). */
  value: number;
  /** Fastest and slowest round, when the figure is a median of several. */
  range?: { min: number; max: number };
  unit: string;
  /** Whether a lower figure (a cost) or a higher one (a rate) is better. */
  better: 'lower' | 'higher';
  /** The figure the design promises: an upper bound for costs, a lower bound for rates. */
  goal?: number;
  peers?: Peer[];
  /** A remark printed under the table. */
  note?: string;
}

/** A finished benchmark. */
export interface Report {
  /** The benchmark's file name without `.ts`; names the JSON file. */
  name: string;
  title: string;
  rows: Row[];
  cpuProbe?: CpuProbe;
}

/** How many times better weft's figure is than `peer`'s. */
function ratio(row: Row, peer: Peer): number {
  return row.better === 'lower' ? peer.value / row.value : row.value / peer.value;
}

/** Prints the report as a table and writes it to bench/results/<name>.json. */
export function publish(report: Report): void {
  console.log(renderTable(report));
  console.log(`\nwritten: ${relative(process.cwd(), writeJson(report))}`);
}

function renderTable(report: Report): string {
  const header = ['', 'weft', 'min–max', 'unit', 'goal', 'peer', 'peer fig.', 'weft ×'];
  const lines: string[][] = [header];
  for (const row of report.rows) {
    const peers = row.peers ?? [];
    const first = [
      row.name,
      formatNumber(row.value),
      row.range ? `${formatNumber(row.range.min)}–${formatNumber(row.range.max)}` : '',
      row.unit,
      row.goal === undefined
        ? ''
        : `${row.better === 'lower' ? '≤' : '≥'} ${row.goal} ${mark(row)}`,
    ];
    if (peers.length === 0) lines.push([...first, '—', '—', '—']);
    peers.forEach((peer, i) => {
      const cells = i === 0 ? first : first.map(() => '');
      lines.push([
        ...cells,
        peer.name,
        formatNumber(peer.value),
        `${ratio(row, peer).toFixed(2)}×`,
      ]);
    });
  }
  const widths = header.map((_, column) => Math.max(...lines.map((l) => l[column].length)));
  const numeric = new Set([1, 2, 6, 7]);
  const table = lines.map((cells) =>
    cells
      .map((cell, c) => (numeric.has(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
      .join('  ')
      .trimEnd(),
  );
  table.splice(1, 0, widths.map((w) => '─'.repeat(w)).join('  '));
  const notes = report.rows.filter((row) => row.note).map((row) => `  ${row.name}: ${row.note}`);
  return [
    `${report.title} (${benchMode()} mode, node ${process.version})`,
    ...(report.cpuProbe ? [describeProbe(report.cpuProbe)] : []),
    '',
    ...table,
    ...(notes.length > 0 ? ['', 'notes:', ...notes] : []),
  ].join('\n');
}

function mark(row: Row): string {
  const met = row.better === 'lower' ? row.value <= row.goal! : row.value >= row.goal!;
  return met ? '✓' : '✗';
}

/** Three significant figures at most, thousands separated: 9.87, 98.7, 987, 9,870. */
function formatNumber(value: number): string {
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  return value.toFixed(Math.abs(value) >= 10 ? 1 : 2);
}

function writeJson(report: Report): string {
  const dir = new URL('../results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const file = new URL(`${report.name}.json`, dir);
  const json = {
    name: report.name,
    date: new Date().toISOString(),
    node: process.version,
    mode: benchMode(),
    cpuProbe: report.cpuProbe ?? null,
    rows: report.rows.map((row) => ({
      ...row,
      peers: (row.peers ?? []).map((peer) => ({ ...peer, ratio: ratio(row, peer) })),
    })),
  };
  writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
  return fileURLToPath(file);
}
