// A program that must end by itself: a subscriber awaited with for-await is closed from a timer,
// then the scheduler closes. (Its pump once kept the process alive after such a close.)

import { Channels } from '@weft/channels';
import { Scheduler } from '@weft/scheduler';

const scheduler = await Scheduler.start({ workers: 1 });
const channels = await Channels.start(scheduler);
const subscriber = channels.subscribe('nothing-comes');
setTimeout(() => subscriber.close(), 50);
for await (const _ of subscriber) {
  // nothing is sent
}
await scheduler.close();
console.log('ended');
