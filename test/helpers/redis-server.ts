/**
 * A throwaway redis-server for tests and benchmarks that compare against Redis.
 *
 * `startRedis()` starts a private server with no persistence on the first free port from 6390
 * upward, bound to 127.0.0.1, and resolves once it answers; `stop()` ends it and resolves once
 * the process is gone. It resolves with undefined when redis-server is not installed, so the
 * caller can print why its Redis part is skipped. Always stop it in a `finally`:
 *
 *   const redis = await startRedis();
 *   if (!redis) console.log('redis-server not on PATH: Redis rows skipped');
 *   else try { … use redis.url … } finally { await redis.stop(); }
 *
 * The server runs in the foreground as a child of this process (`--daemonize no`), not as a
 * daemon: a Ctrl-C in the terminal reaches it along with the rest of the process group, a server
 * that fails to start is seen exiting at once (with its log), and `stop()` awaits its exit and
 * reaps it instead of polling a pid. If the caller forgets `stop()`, or dies of an uncaught
 * exception before its `finally` runs, the server is killed as this process exits (it is then
 * left for pid 1 to reap). Only a SIGKILL of this process leaves the server running.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

const HOST = '127.0.0.1';
const FIRST_PORT = 6390;
const PORTS_TO_TRY = 100;
const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const POLL_MS = 20;

/** A running redis-server of our own. */
export interface RedisServer {
  port: number;
  /** `redis://127.0.0.1:<port>`, for ioredis. */
  url: string;
  pid: number;
  /** Ends the server (SIGTERM, then SIGKILL after 5 s) and resolves once its process is gone. */
  stop(): Promise<void>;
}

/** The path of the `redis-server` executable on PATH, or undefined if there is none. */
export function redisServerPath(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const path = join(dir, 'redis-server');
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {}
  }
  return undefined;
}

/**
 * Starts a redis-server on the first free port from 6390 and resolves once it answers PING, or
 * with undefined if redis-server is not on PATH. Rejects (with the server's log) if it does not
 * come up; no server is left running then.
 */
export async function startRedis(): Promise<RedisServer | undefined> {
  const executable = redisServerPath();
  if (executable === undefined) return undefined;
  let port = FIRST_PORT;
  for (let attempt = 0; attempt < PORTS_TO_TRY; attempt++, port++) {
    if (!(await portIsFree(port))) continue;
    const server = await launch(executable, port);
    // Undefined: another process took the port between the check and the bind; try the next.
    if (server) return server;
  }
  throw new Error(`no free port for redis-server in ${FIRST_PORT}..${port - 1}`);
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, HOST, () => probe.close(() => resolve(true)));
  });
}

// Starts the server on `port`: the server once it answers, undefined if the port was taken.
async function launch(executable: string, port: number): Promise<RedisServer | undefined> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-redis-'));
  const logfile = join(dir, 'redis.log');
  const child = spawn(
    executable,
    [
      '--port',
      `${port}`,
      '--bind',
      HOST,
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
      '--dir',
      dir,
      '--logfile',
      logfile,
    ],
    { stdio: 'ignore' },
  );
  let spawnError: Error | undefined;
  child.once('error', (error) => {
    spawnError = error;
  });
  const killOnExit = () => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', killOnExit);
  // A forgotten stop() must not keep the caller's process alive; `killOnExit` ends the server.
  child.unref();
  const stop = async () => {
    process.off('exit', killOnExit);
    await ended(child);
    rmSync(dir, { recursive: true, force: true });
  };
  const log = () => {
    try {
      return readFileSync(logfile, 'utf8').trim();
    } catch {
      return '(no log)';
    }
  };
  try {
    await answering(child, port, () => spawnError);
    // Another server that bound the port first would answer PING too: make sure it is ours.
    const info = await ask(port, 'INFO server');
    const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
    if (pid !== child.pid) throw new Error(`port ${port} is answered by redis pid ${pid}`);
  } catch (error) {
    const text = log();
    await stop();
    if (/address already in use/i.test(text)) return undefined;
    throw new Error(
      `redis-server on port ${port} did not start: ${(error as Error).message}\n${text}`,
    );
  }
  return { port, url: `redis://${HOST}:${port}`, pid: child.pid!, stop };
}

// Resolves once the server on `port` answers PING; rejects if it exits or the deadline passes.
async function answering(
  child: ChildProcess,
  port: number,
  spawnError: () => Error | undefined,
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const error = spawnError();
    if (error) throw error;
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`it exited (${child.signalCode ?? `code ${child.exitCode}`})`);
    }
    try {
      if ((await ask(port, 'PING')) === 'PONG') return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`no PONG within ${READY_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

// Sends one inline command on a fresh connection; resolves with a status or bulk-string reply.
function ask(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, HOST);
    let reply = Buffer.alloc(0);
    socket.setTimeout(1000, () => socket.destroy(new Error(`no reply to ${command}`)));
    socket.on('connect', () => socket.write(`${command}\r\n`));
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`connection closed before the reply to ${command}`)));
    socket.on('data', (data) => {
      reply = Buffer.concat([reply, data]);
      const lineEnd = reply.indexOf('\r\n');
      if (lineEnd < 0) return;
      const line = reply.toString('latin1', 1, lineEnd);
      const type = String.fromCharCode(reply[0]);
      if (type === '$') {
        const length = Number(line);
        if (reply.length < lineEnd + 2 + length) return;
        resolve(reply.toString('utf8', lineEnd + 2, lineEnd + 2 + length));
      } else if (type === '+') {
        resolve(line);
      } else {
        reject(new Error(`${command}: ${line}`));
      }
      socket.destroy();
    });
  });
}

// Ends `child` (SIGTERM, SIGKILL if it lingers) and resolves once it has exited.
async function ended(child: ChildProcess): Promise<void> {
  // No pid: it never started.
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  // Unreferenced, the child would not keep this process alive until its 'exit' event arrives.
  child.ref();
  const exit = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  try {
    await exit;
  } finally {
    clearTimeout(timer);
  }
}
