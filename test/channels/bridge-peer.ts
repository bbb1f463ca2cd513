// The other process of the Redis bridge test: a hub with a bridge to the same Redis. It prints
// "ready", then one JSON line per message it receives on 'chat' (and 'private'); on the line
// "send" from stdin it sends "hello from B" on 'chat'; on "quit" it closes everything and exits.

import { createInterface } from 'node:readline';
import { Channels } from '@weft/channels';
import { RedisBridge } from '@weft/channels/redis';
import { Scheduler } from '@weft/scheduler';

const scheduler = await Scheduler.start({ workers: 1 });
const channels = await Channels.start(scheduler);
const bridge = await RedisBridge.start(channels, {
  redis: process.argv[2] as string,
  channels: ['chat'],
});
const subscriber = channels.subscribe('chat', 'private');
const received = (async () => {
  for await (const message of subscriber) {
    const data = message.data;
    let text: string;
    let kind: string;
    if (typeof data === 'string') [text, kind] = [data, 'string'];
    else if (data instanceof Uint8Array) [text, kind] = [Buffer.from(data).toString(), 'bytes'];
    else [text, kind] = [data.toString(), 'iobuf'];
    if (typeof data === 'object' && !(data instanceof Uint8Array)) data.release();
    console.log(JSON.stringify({ channel: message.channel, text, kind, origin: message.origin }));
  }
})();
console.log('ready');
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'send') channels.send('chat', 'hello from B');
  if (line === 'quit') break;
}
subscriber.close();
await received;
await bridge.close();
channels.close();
await scheduler.close();
