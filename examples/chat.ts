/**
 * A chat room on weft's channels: fibers on every worker join 'room', each says hello and reads
 * what everybody says; the main thread listens too, and tells them when to stop.
 *
 *     node examples/chat.ts [users]
 *
 * This one file is both the task module (every worker imports it) and the program.
 */
import { isMainThread } from 'node:worker_threads';
import { Channels, join, send } from '@weft/channels';
import { groupIndex, Scheduler, task } from '@weft/scheduler';

/** A user: joins, greets when told to, and reads until "bye"; returns what it heard. */
export const user = task('user', function* (name: string) {
  const room = join('room'); // this fiber's subscriber; it leaves when the fiber ends
  yield* send('joined', name);
  let heard = 0;
  for (;;) {
    const message = yield* room.next(); // parks this fiber, not the thread
    if (message.data === 'go') yield* send('room', `hello from ${name} on worker ${groupIndex()}`);
    else if (message.data === 'bye') return `${name} heard ${heard} greetings`;
    else heard++;
  }
});

if (isMainThread) {
  const users = Number(process.argv[2] ?? 6);
  await using scheduler = await Scheduler.start({ tasks: import.meta.url });
  const channels = await Channels.start(scheduler);
  using joined = channels.subscribe('joined');
  using room = channels.subscribe('room');
  const done = Array.from({ length: users }, (_, i) => scheduler.run(user, `user${i}`));
  // Everybody is in the room once every user has reported: then every greeting reaches all.
  let present = 0;
  for await (const _ of joined) if (++present === users) break;
  channels.send('room', 'go');
  let greetings = 0;
  for await (const message of room) {
    if (message.data === 'go') continue; // our own
    console.log(`main heard: ${message.data}`);
    if (++greetings === users) break;
  }
  channels.send('room', 'bye');
  for (const line of await Promise.all(done)) console.log(line);
  console.log(channels.stats().channels);
}
