/**
 * `node bench/run.ts [name...] [--full]`: runs benchmarks.
 *
 * With no name it runs every benchmark in bench/ (see harness/catalog.ts); with names, only
 * those. Each runs in a child process of its own, one after another, so none inherits another's
 * JIT state, heap or busy threads, and each prints its own table. `--full` is passed on. Exits
 * non-zero if a name is unknown or any benchmark fails.
 */
import { spawnSync } from 'node:child_process';
import { benchmarkNames, benchmarkPath, unknownNames } from './harness/catalog.ts';
import { FULL_FLAG } from './harness/mode.ts';

function main(): number {
  const args = process.argv.slice(2);
  const flags = args.filter((arg) => arg.startsWith('--'));
  const names = args.filter((arg) => !arg.startsWith('--'));
  if (flags.some((flag) => flag !== FULL_FLAG)) {
    console.error(`usage: node bench/run.ts [name...] [${FULL_FLAG}]`);
    return 1;
  }
  const unknown = unknownNames(names);
  if (unknown) {
    console.error(unknown);
    return 1;
  }
  const failed: string[] = [];
  for (const name of names.length > 0 ? names : benchmarkNames()) {
    console.log(`\n▶ bench/${name}.ts ${flags.join(' ')}`.trimEnd());
    const child = spawnSync(process.execPath, [benchmarkPath(name), ...flags], {
      stdio: 'inherit',
    });
    if (child.status !== 0) {
      failed.push(name);
      console.error(`✗ ${name} failed (${child.signal ?? `exit code ${child.status}`})`);
    }
  }
  if (failed.length > 0) console.error(`\nfailed: ${failed.join(', ')}`);
  return failed.length > 0 ? 1 : 0;
}

process.exitCode = main();
