import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Futex } from '@weft/shm';
import test from 'ava';

const run = promisify(execFile);

function makeFutex(): { futex: Futex; words: Int32Array } {
  const words = new Int32Array(new SharedArrayBuffer(64));
  return { futex: new Futex(words, 0, 1), words };
}

test('wait: not-equal at once, timed-out when nothing changes', (t) => {
  const { futex, words } = makeFutex();
  words[0] = 3;
  t.is(futex.wait(2), 'not-equal');
  t.is(futex.wait(3, 0), 'timed-out');
  t.is(words[1], 0, 'the waiter count is back to zero');
});

test('waitAsync is woken by wake, and the waiter count tracks sleepers', async (t) => {
  const { futex, words } = makeFutex();
  const parked = futex.waitAsync(0);
  t.is(words[1], 1);
  Atomics.store(words, 0, 1);
  t.is(futex.wake(1), 1);
  t.is(await parked, 'ok');
  t.is(words[1], 0);
  t.is(futex.wake(1), 0, 'nobody left to wake');
  t.is(await futex.waitAsync(0), 'not-equal');
});

test('wake with no sleeper skips the notify and reports 0', (t) => {
  const { futex } = makeFutex();
  t.is(futex.wake(Number.POSITIVE_INFINITY), 0);
});

test('bad construction is rejected', (t) => {
  const shared = new Int32Array(new SharedArrayBuffer(8));
  t.throws(() => new Futex(new Int32Array(2), 0, 1), {
    instanceOf: TypeError,
    code: 'E_INVALID_ARGUMENT',
    message: /SharedArrayBuffer/,
  });
  t.throws(() => new Futex(new Uint32Array(new SharedArrayBuffer(8)) as never, 0, 1), {
    code: 'E_INVALID_ARGUMENT',
  });
  t.throws(() => new Futex(shared, 2, 1), {
    instanceOf: RangeError,
    code: 'E_OUT_OF_RANGE',
    message: /index must be an integer from 0 to 1/,
  });
  t.throws(() => new Futex(shared, 0, -1), { code: 'E_OUT_OF_RANGE' });
  t.throws(() => new Futex(shared, 0, 1).wait(0, -1), { code: 'E_OUT_OF_RANGE' });
});

// A pending Atomics.waitAsync alone does not keep Node alive; a referenced wait must.
const script = (ref: boolean) => `
  import { Futex } from '@weft/shm';
  const futex = new Futex(new Int32Array(new SharedArrayBuffer(8)), 0, 1);
  futex.waitAsync(0, 300, { ref: ${ref} }).then((result) => console.log(result));
`;

test('a referenced waitAsync keeps the process alive until it ends', async (t) => {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script(true)], {
    timeout: 30_000,
  });
  t.is(stdout.trim(), 'timed-out');
});

test('waitAsync with ref: false lets the process exit', async (t) => {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script(false)], {
    timeout: 30_000,
  });
  t.is(stdout.trim(), '');
});
