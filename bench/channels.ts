/**
 * `pnpm bench channels`: weft's channels against what Node users fan messages out with today —
 * a BroadcastChannel, a MessagePort per subscriber, Redis pub/sub through ioredis — in one run,
 * the way shared/research/BASELINES.md (section 5) measured them.
 *
 * The publisher is the main thread; the subscribers are spread over 2 worker threads (weft: 2
 * scheduler workers, its subscribers fibers there). Messages are 64 bytes carrying a sequence
 * number; every subscriber checks it gets each message once, in order (bench/peers/channels.ts
 * holds the harness all transports share, the peers' workers and the checks). Rows:
 *
 * - fan-out, 1 publisher → 4 subscribers: deliveries per second, publisher at most 10,000
 *   messages ahead of the slowest subscriber (the peers have no flow control of their own; weft's
 *   bounded queues would hold it back anyway);
 * - the same with 64 subscribers;
 * - one-way latency, one message at a time to 4 subscribers (publish → subscriber handler, all
 *   deliveries), p10, p50 and p99 (p10: the path itself, when no other thread is in its way);
 * - the routing design: the seed routes every message through a master thread; weft sends from
 *   the sender straight into each subscriber thread's queue. The master variant here is a weft
 *   fiber on a third worker that receives every message and sends it on.
 *
 * weft's publisher copies into IOBuf blocks on send, so it reuses one 64-byte array; the peers
 * get a fresh array per message, as BASELINES did (a reused one would not be faster for them:
 * they clone on post).
 */
import { Channels } from '@weft/channels';
import { Scheduler } from '@weft/scheduler';
import { type RedisServer, startRedis } from '../test/helpers/redis-server.ts';
import { probeCpu } from './harness/cpu-probe.ts';
import { byMode } from './harness/mode.ts';
import { Progress } from './harness/progress.ts';
import { publish, type Row } from './harness/report.ts';
import {
  type FanOutOptions,
  type FanOutResult,
  fanOut,
  fanOutBroadcastChannel,
  fanOutMessagePorts,
  fanOutRedis,
  type LatencyOptions,
  type LatencyResult,
  type OpenPeer,
  oneWayLatency,
  oneWayLatencyBroadcastChannel,
  oneWayLatencyMessagePorts,
  oneWayLatencyRedis,
} from './peers/channels.ts';
import {
  CLAIMS,
  type Hosted,
  hostSubscribers,
  route,
  SETUPS,
} from './workers/channels-weft-subscriber.ts';

const WORKERS = 2;
const BYTES = 64;
const WINDOW = 10_000;
const FAN_OUT: FanOutOptions = {
  messages: byMode(300_000, 1_000_000),
  subscribers: 4,
  workers: WORKERS,
  bytes: BYTES,
  window: WINDOW,
};
const WIDE: FanOutOptions = { ...FAN_OUT, messages: byMode(30_000, 200_000), subscribers: 64 };
const LATENCY: LatencyOptions = {
  messages: byMode(1000, 5000),
  warmup: 200,
  subscribers: 4,
  workers: WORKERS,
  bytes: BYTES,
};
const WEFT_TASKS = new URL('./workers/channels-weft-subscriber.ts', import.meta.url);
const CHANNEL = 'bench';
const ROUTER_INBOX = 'bench-in';

/** Where each run's weft subscriber hosts ran (one group each, if the spread worked). */
const placements: string[] = [];

/**
 * weft as a transport of the shared harness: a scheduler with `workers` workers and a hub; the
 * harness's subscriber groups become fibers on the workers (hostSubscribers). `routed`: a third
 * worker runs the master thread of the seed, and the publisher sends to it.
 */
function openWeft(routed: boolean): OpenPeer {
  return async (_subscribers, fail) => {
    const scheduler = await Scheduler.start({
      workers: routed ? WORKERS + 1 : WORKERS,
      tasks: WEFT_TASKS,
    });
    // A queue per thread deeper than the harness's window: the window is the flow control here.
    const channels = await Channels.start(scheduler, { ringCapacity: 16_384 });
    const target = routed ? ROUTER_INBOX : CHANNEL;
    return {
      publisher: {
        publish: (message) =>
          channels.trySend(target, message) ? undefined : channels.sendAsync(target, message),
        async close() {
          channels.close();
          await scheduler.close({ drain: false, timeoutMs: 5000 });
        },
      },
      sourceFor: () => ({ source: { transport: 'hosted' }, transfer: [] }),
      async host(setups) {
        await scheduler.install(SETUPS, setups);
        // One group per setup (and one for the router): a host that finds its group taken is
        // started again, a little later (when the busy group has stopped spinning).
        await scheduler.install(
          CLAIMS,
          new Int32Array(new SharedArrayBuffer(4 * scheduler.groups)),
        );
        if (routed) {
          scheduler
            .run(route, ROUTER_INBOX, CHANNEL, setups[0].messages)
            .catch((error) => fail(error));
          while (
            !channels.stats().channels.some((c) => c.name === ROUTER_INBOX && c.subscribers > 0)
          ) {
            await new Promise((resolve) => setTimeout(resolve, 1));
          }
        }
        const host = (i: number): Promise<number> =>
          scheduler.run(hostSubscribers, i, CHANNEL).then(async ({ group, placed }: Hosted) => {
            if (placed) return group;
            await new Promise((resolve) => setTimeout(resolve, 1));
            return host(i);
          });
        void Promise.all(setups.map((_, i) => host(i))).then(
          (groups) => placements.push(groups.join('+')),
          (error) => fail(error),
        );
        return async () => {};
      },
    };
  };
}

const progress = new Progress('channels');
const rows: Row[] = [];
const redis: RedisServer | undefined = await startRedis();
if (redis === undefined)
  console.log('redis-server is not installed: the Redis columns are skipped');

async function fanOutRow(name: string, options: FanOutOptions, goal?: number): Promise<void> {
  const run = async (label: string, body: () => Promise<FanOutResult>) => {
    progress.update(`${name}: ${label}`, true);
    return (await body()).deliveriesPerSecond;
  };
  const weft = await run('weft', () => fanOut(openWeft(false), options));
  const peers = [
    {
      name: 'BroadcastChannel',
      value: await run('BroadcastChannel', () => fanOutBroadcastChannel(options)),
    },
    {
      name: 'MessagePort each',
      value: await run('MessagePort', () => fanOutMessagePorts(options)),
    },
  ];
  if (redis !== undefined) {
    peers.push({
      name: 'Redis (ioredis)',
      value: await run('Redis', () => fanOutRedis(options, redis.url)),
    });
  }
  rows.push({ name, value: weft, unit: 'deliveries/s', better: 'higher', goal, peers });
}

async function latencyRows(): Promise<void> {
  const run = async (label: string, body: () => Promise<LatencyResult>) => {
    progress.update(`one-way latency: ${label}`, true);
    return body();
  };
  const weft = await run('weft', () => oneWayLatency(openWeft(false), LATENCY));
  const peers: [string, LatencyResult][] = [
    [
      'BroadcastChannel',
      await run('BroadcastChannel', () => oneWayLatencyBroadcastChannel(LATENCY)),
    ],
    ['MessagePort each', await run('MessagePort', () => oneWayLatencyMessagePorts(LATENCY))],
  ];
  if (redis !== undefined) {
    peers.push([
      'Redis (ioredis)',
      await run('Redis', () => oneWayLatencyRedis(LATENCY, redis.url)),
    ]);
  }
  for (const [quantile, goal] of [
    ['p10', undefined],
    ['p50', 5],
    ['p99', undefined],
  ] as const) {
    rows.push({
      name: `one-way latency ${quantile}, one message at a time, 4 subscribers`,
      value: weft[quantile],
      unit: 'µs',
      better: 'lower',
      goal,
      peers: peers.map(([peer, result]) => ({ name: peer, value: result[quantile] })),
    });
  }
}

async function routingRows(): Promise<void> {
  progress.update('routing: through a master thread', true);
  const routed = await fanOut(openWeft(true), FAN_OUT);
  progress.update('routing: direct fan-out', true);
  const direct = await fanOut(openWeft(false), FAN_OUT);
  rows.push({
    name: 'design: direct fan-out vs routing through a master thread (weft both)',
    value: direct.deliveriesPerSecond,
    unit: 'deliveries/s',
    better: 'higher',
    peers: [{ name: 'master thread', value: routed.deliveriesPerSecond }],
    note: 'the master variant uses a third worker thread for the router',
  });
}

try {
  await fanOutRow('fan-out 1 → 4 subscribers on 2 workers, 64 B', FAN_OUT, 5_000_000);
  await fanOutRow('fan-out 1 → 64 subscribers on 2 workers, 64 B', WIDE);
  await latencyRows();
  await routingRows();
} finally {
  await redis?.stop();
  progress.done();
}
const cpuProbe = await probeCpu();
rows[0].note = `weft subscriber groups ran on workers ${placements.join(', ')}`;
publish({
  name: 'channels',
  title: `bench/channels: weft channels vs BroadcastChannel, MessagePort, Redis (${FAN_OUT.messages.toLocaleString('en-US')} messages)`,
  rows,
  cpuProbe,
});
