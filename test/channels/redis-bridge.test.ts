// The Redis bridge between two processes, against a real redis-server on 127.0.0.1 (skipped, with
// the reason, when redis-server is not installed).

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { Channels, type Message } from '@weft/channels';
import { RedisBridge } from '@weft/channels/redis';
import { IOBuf } from '@weft/iobuf';
import { Scheduler } from '@weft/scheduler';
import test from 'ava';
import { redisServerPath, startRedis } from '../helpers/redis-server.ts';

const peerScript = new URL('./bridge-peer.ts', import.meta.url);
const hasRedis = redisServerPath() !== undefined;
if (!hasRedis) console.log('redis-server is not installed: the Redis bridge tests are skipped');
const redisTest = hasRedis ? test.serial : test.skip;

interface PeerLine {
  channel: string;
  text: string;
  kind: string;
  origin: number;
}

redisTest('two processes share mirrored channels through Redis; nothing loops back', async (t) => {
  t.timeout(60_000);
  const redis = await startRedis();
  if (redis === undefined) return t.fail('redis-server vanished');
  const scheduler = await Scheduler.start({ workers: 1 });
  const peer = spawn(process.execPath, [peerScript.pathname, redis.url], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const channels = await Channels.start(scheduler);
  const bridge = await RedisBridge.start(channels, { redis: redis.url, channels: ['chat'] });
  try {
    const local = channels.subscribe('chat');
    const lines = createInterface({ input: peer.stdout });
    const peerLines: PeerLine[] = [];
    let peerReady: () => void = () => {};
    const ready = new Promise<void>((resolve) => {
      peerReady = resolve;
    });
    const waiters: (() => void)[] = [];
    lines.on('line', (line) => {
      if (line === 'ready') peerReady();
      else peerLines.push(JSON.parse(line) as PeerLine);
      for (const wake of waiters.splice(0)) wake();
    });
    const peerHas = async (count: number) => {
      while (peerLines.length < count) await new Promise<void>((resolve) => waiters.push(resolve));
    };
    await ready;

    channels.send('chat', 'hello from A');
    channels.send('chat', new TextEncoder().encode('bytes from A'));
    const body = IOBuf.from('iobuf from A', channels.pool);
    channels.send('chat', body);
    body.release();
    channels.send('private', 'not mirrored');
    await peerHas(3);
    t.deepEqual(
      peerLines.map(({ channel, text, kind }) => ({ channel, text, kind })),
      [
        { channel: 'chat', text: 'hello from A', kind: 'string' },
        { channel: 'chat', text: 'bytes from A', kind: 'bytes' },
        { channel: 'chat', text: 'iobuf from A', kind: 'iobuf' },
      ],
      'the peer got the mirrored messages, with their types, and not the private one',
    );
    t.true(
      peerLines.every((line) => line.origin === 1),
      'marked as injected by a bridge',
    );

    peer.stdin.write('send\n');
    const got: Message[] = [];
    for await (const message of local) {
      got.push(message);
      if (message.data === 'hello from B') break;
    }
    const texts = got.map(({ data }) => {
      if (typeof data === 'string') return data;
      if (data instanceof Uint8Array) return Buffer.from(data).toString();
      const text = data.toString();
      data.release();
      return text;
    });
    t.deepEqual(texts, ['hello from A', 'bytes from A', 'iobuf from A', 'hello from B']);
    t.deepEqual(
      got.map((m) => m.origin),
      [0, 0, 0, 1],
      'own messages once (origin 0), the peer message once (from the bridge)',
    );
    // Give an echo loop time to show itself: nothing more may arrive on either side.
    await new Promise((resolve) => setTimeout(resolve, 200));
    t.is(local.recv(), null, 'no message came back from Redis a second time');
    t.deepEqual(
      peerLines.slice(3).map(({ text, origin }) => ({ text, origin })),
      [{ text: 'hello from B', origin: 0 }],
      'the peer got its own message once, and nothing of ours twice',
    );
    const stats = bridge.stats();
    t.is(stats.published, 3);
    t.is(stats.injected, 1);
    t.is(stats.echoes, 3, 'Redis echoed our 3 publishes, and the bridge skipped them');
    local.close();
  } finally {
    await bridge.close();
    channels.close();
    peer.stdin.end('quit\n');
    await Promise.race([
      once(peer, 'exit'),
      new Promise((resolve) => setTimeout(resolve, 10_000).unref()),
    ]);
    peer.kill();
    await scheduler.close();
    await redis.stop();
  }
});

test('RedisBridge checks its options', async (t) => {
  const scheduler = await Scheduler.start({ workers: 0 });
  t.teardown(() => scheduler.close());
  const channels = await Channels.start(scheduler);
  await t.throwsAsync(RedisBridge.start(channels, { redis: 'redis://127.0.0.1:1', channels: [] }), {
    code: 'E_INVALID_ARGUMENT',
  });
  channels.close();
});
