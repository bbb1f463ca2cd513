/**
 * The catalog of benchmarks: every bench/<name>.ts except the two entry points (run.ts and
 * profile.ts). Adding a benchmark is adding a file; both entry points find it here.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const benchDir = fileURLToPath(new URL('../', import.meta.url));
const entryPoints = new Set(['run', 'profile']);

/** The names of the benchmarks, sorted. */
export function benchmarkNames(): string[] {
  return readdirSync(benchDir)
    .filter((file) => file.endsWith('.ts'))
    .map((file) => file.slice(0, -'.ts'.length))
    .filter((name) => !entryPoints.has(name))
    .sort();
}

/** The path of benchmark `name`'s script. */
export function benchmarkPath(name: string): string {
  return `${benchDir}${name}.ts`;
}

/** Names in `names` that are not benchmarks, with a message listing the ones there are. */
export function unknownNames(names: readonly string[]): string | undefined {
  const available = benchmarkNames();
  const unknown = names.filter((name) => !available.includes(name));
  if (unknown.length === 0) return undefined;
  return `unknown benchmark: ${unknown.join(', ')}; available: ${available.join(', ')}`;
}
