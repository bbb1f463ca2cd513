/**
 * The timer thread (brpc's TimerThread): one worker that orders every pending timer and fires
 * the due ones.
 *
 * Its loop:
 *   1. read SIGNALS (so a signal sent from now on cuts the coming sleep short);
 *   2. take endpoint registrations (synchronously, from its control port);
 *   3. drain every bucket into its private heap, dropping timers already cancelled;
 *   4. fire the due timers in deadline order: claim each in the table (exactly one of a cancel and
 *      a fire wins), push its token to its endpoint's inbox, retire its slot; each endpoint's lot
 *      is signalled once per batch;
 *   5. sweep cancelled entries when the heap has doubled since the last sweep;
 *   6. publish the next deadline, and sleep in Atomics.wait until then or until signalled.
 *
 * A producer signals only when its timer is earlier than the published deadline (or its bucket is
 * filling up). Producers read the deadline after pushing; this thread publishes it and then looks
 * at the buckets once more before sleeping, so a timer is either seen by this thread or signals
 * it: never both missed. Callbacks never run here: a token goes to the thread that owns the
 * endpoint, so a slow or failing callback cannot stall other timers.
 */
import { type MessagePort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { MpscQueue, ParkingLot } from '@weft/shm';
import { now } from './clock.ts';
import { TimerBlock, TimerControl, type TimerSizes } from './timer-block.ts';
import { TimerHeap } from './timer-heap.ts';
import { endpointOf, NO_TOKEN, tokenOf } from './timer-target.ts';

/** What TimerService passes in workerData. */
export interface TimerThreadData {
  buffer: SharedArrayBuffer;
  sizes: TimerSizes;
  port: MessagePort;
}

/** A registration sent on the control port: an endpoint in another buffer. */
export interface EndpointRegistration {
  index: number;
  buffer: SharedArrayBuffer;
  inboxByteOffset: number;
  lotByteOffset: number;
}

interface Endpoint {
  inbox: MpscQueue;
  lot: ParkingLot;
  /** Tokens fired while the inbox was full, oldest first. */
  overflow: number[];
}

/** How often to retry overflowing endpoints, in milliseconds. */
const OVERFLOW_RETRY_MS = 1;

const { buffer, sizes, port } = workerData as TimerThreadData;
const block = new TimerBlock(buffer, sizes);
const { control, table } = block;
const heap = new TimerHeap();
const endpoints: Endpoint[] = block.inboxes.map((inbox, i) => ({
  inbox,
  lot: block.lots[i],
  overflow: [],
}));
const overflowing = new Set<Endpoint>();
const toSignal = new Set<Endpoint>();
const MIN_SWEEP = 4096;
let sweptAt = MIN_SWEEP;

function register(): void {
  for (let message = receiveMessageOnPort(port); message; message = receiveMessageOnPort(port)) {
    const {
      index,
      buffer: other,
      inboxByteOffset,
      lotByteOffset,
    } = message.message as EndpointRegistration;
    endpoints[index] = {
      inbox: MpscQueue.attach(other, inboxByteOffset),
      lot: ParkingLot.attach(other, lotByteOffset),
      overflow: [],
    };
  }
}

function take(id: number, deadline: number): void {
  if (table.isScheduled(id)) heap.push(deadline, id);
}

function drainBuckets(): void {
  for (const bucket of block.buckets) bucket.drain(take);
}

function deliver(target: number): void {
  const endpoint = endpoints[endpointOf(target)];
  if (endpoint === undefined) return; // no such endpoint (validated at schedule): nothing to do
  const token = tokenOf(target);
  if (token !== NO_TOKEN && (endpoint.overflow.length > 0 || !endpoint.inbox.tryPush(token))) {
    endpoint.overflow.push(token);
    overflowing.add(endpoint);
  }
  toSignal.add(endpoint);
}

// Moves what fits of each overflow into its inbox.
function retryOverflow(): void {
  for (const endpoint of overflowing) {
    const { overflow, inbox } = endpoint;
    let moved = 0;
    while (moved < overflow.length && inbox.tryPush(overflow[moved])) moved++;
    if (moved > 0) {
      overflow.splice(0, moved);
      toSignal.add(endpoint);
    }
    if (overflow.length === 0) overflowing.delete(endpoint);
  }
}

function fireDue(): void {
  let time = now();
  let fired = 0;
  while (heap.size > 0 && heap.peekDeadline() <= time) {
    heap.pop();
    const id = heap.poppedId;
    const target = table.claim(id);
    if (target === -1) continue; // cancelled since it was scheduled
    deliver(target);
    table.retire(id);
    if ((++fired & 63) === 0) {
      // A long batch: take in timers scheduled meanwhile, so that one due already is not left
      // waiting behind the rest of the batch.
      drainBuckets();
      time = now();
    }
  }
  for (const endpoint of toSignal) endpoint.lot.signal();
  toSignal.clear();
  if (fired > 0) Atomics.add(control, TimerControl.FIRED, fired);
}

function bucketsEmpty(): boolean {
  for (const bucket of block.buckets) if (bucket.hasRecords()) return false;
  return true;
}

Atomics.store(control, TimerControl.READY, 1);
Atomics.notify(control, TimerControl.READY);
while (Atomics.load(control, TimerControl.STOP) === 0) {
  const signals = Atomics.load(control, TimerControl.SIGNALS);
  register();
  drainBuckets();
  retryOverflow();
  fireDue();
  if (heap.size >= 2 * sweptAt) {
    heap.sweep((id) => table.isScheduled(id));
    sweptAt = Math.max(MIN_SWEEP, heap.size);
  }
  const next = heap.peekDeadline();
  block.writeNearest(next);
  Atomics.store(control, TimerControl.HEAP_ENTRIES, heap.size);
  Atomics.store(control, TimerControl.HEAP_BYTES, heap.byteLength);
  if (!bucketsEmpty()) continue;
  let timeout = next === Number.POSITIVE_INFINITY ? undefined : Math.max(0, next - now());
  if (overflowing.size > 0) {
    timeout = Math.min(timeout ?? OVERFLOW_RETRY_MS, OVERFLOW_RETRY_MS);
  }
  // Slots of fired timers sit in this thread's cache of the pool; hand them back before sleeping
  // so that a nearly full table can reuse them on other threads.
  table.pool.flushCache();
  Atomics.wait(control, TimerControl.SIGNALS, signals, timeout);
}
port.close();
