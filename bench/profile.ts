/**
 * `node bench/profile.ts <name> [--full]`: a flamegraph of every thread of a benchmark.
 *
 * 0x on its own follows only the main thread, and weft's work happens on worker threads. So the
 * benchmark runs under `node --cpu-prof`, which writes one .cpuprofile per thread (workers inherit
 * the flag) into bench/profiles/<name>-<timestamp>/, named CPU.<date>.<time>.<pid>.<thread id>.
 * <seq>.cpuprofile; then `0x --visualize-cpu-profile` turns each into a self-contained HTML
 * flamegraph beside it. Thread ids say little, so each flamegraph is named after the script its
 * thread ran as well: thread-0-main.html, thread-5-deque-steal.html, thread-1-cpu-probe-worker.html.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchmarkPath, unknownNames } from './harness/catalog.ts';
import { FULL_FLAG } from './harness/mode.ts';

const zeroX = fileURLToPath(new URL('../node_modules/.bin/0x', import.meta.url));
const profilesDir = fileURLToPath(new URL('profiles/', import.meta.url));
const profileName = /^CPU\.\d+\.\d+\.\d+\.(\d+)\.\d+\.cpuprofile$/;
const workerScript = /\/bench\/(?:workers\/([\w-]+)|harness\/([\w-]+-worker))\.ts/;

// What a thread ran: 'main' for thread 0, else the bench worker script found in its profile.
function threadLabel(thread: number, profile: string): string {
  if (thread === 0) return 'main';
  const found = workerScript.exec(readFileSync(profile, 'utf8'));
  return found?.[1] ?? found?.[2] ?? 'worker';
}

function main(): number {
  const args = process.argv.slice(2);
  const flags = args.filter((arg) => arg.startsWith('--'));
  const names = args.filter((arg) => !arg.startsWith('--'));
  if (names.length !== 1 || flags.some((flag) => flag !== FULL_FLAG)) {
    console.error(`usage: node bench/profile.ts <name> [${FULL_FLAG}]`);
    return 1;
  }
  const [name] = names;
  const unknown = unknownNames(names);
  if (unknown) {
    console.error(unknown);
    return 1;
  }
  const stamp = new Date().toISOString().slice(0, 19).replaceAll(':', '-');
  const dir = join(profilesDir, `${name}-${stamp}`);
  mkdirSync(dir, { recursive: true });

  const run = spawnSync(
    process.execPath,
    ['--cpu-prof', `--cpu-prof-dir=${dir}`, benchmarkPath(name), ...flags],
    { stdio: 'inherit' },
  );
  const benchFailed = run.status !== 0;
  if (benchFailed) console.error(`✗ ${name} failed (${run.signal ?? `exit code ${run.status}`})`);

  const profiles = readdirSync(dir)
    .flatMap((file) => {
      const thread = profileName.exec(file)?.[1];
      return thread === undefined ? [] : [{ file, thread: Number(thread) }];
    })
    .sort((a, b) => a.thread - b.thread);
  if (profiles.length === 0) {
    console.error(`no .cpuprofile written in ${relative(process.cwd(), dir)}`);
    return 1;
  }
  console.log(`\nflamegraphs (${profiles.length} threads; thread 0 is the main thread):`);
  let renderFailed = false;
  for (const { file, thread } of profiles) {
    const profile = join(dir, file);
    const html = `thread-${thread}-${threadLabel(thread, profile)}`;
    const render = spawnSync(
      zeroX,
      ['--quiet', '--visualize-cpu-profile', profile, '--name', html],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    if (render.status === 0) {
      console.log(`  thread ${thread}: ${relative(process.cwd(), join(dir, `${html}.html`))}`);
    } else {
      renderFailed = true;
      console.error(`  thread ${thread}: 0x failed on ${file} (exit code ${render.status})`);
    }
  }
  return benchFailed || renderFailed ? 1 : 0;
}

process.exitCode = main();
