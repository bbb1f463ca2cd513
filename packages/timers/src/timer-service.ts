/**
 * TimerService: starts and stops the timer thread, and registers endpoints.
 *
 * One service is one dedicated worker thread and one shared buffer. The thread that starts it
 * hands `handle` to other threads (in workerData, or a message: it is plain data and a
 * SharedArrayBuffer), and each attaches a TimerClient with it. Endpoints in other buffers — a
 * scheduler's groups, whose inboxes and lots live in the scheduler's buffer — are registered by
 * the starting thread with `addEndpoint`: the buffer goes to the timer thread once, on a control
 * port it reads synchronously each time it wakes, and the endpoint's index is usable at once.
 */
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { ErrorCode, MpscQueue, ParkingLot, requireInteger, WeftError } from '@weft/shm';
import { type BucketMode, TimerBlock, TimerControl, type TimerSizes } from './timer-block.ts';
import { TimerClient, type TimerHandle } from './timer-client.ts';
import { TimerTable } from './timer-table.ts';
import { MAX_ENDPOINTS } from './timer-target.ts';
import type { EndpointRegistration, TimerThreadData } from './timer-thread.ts';

/** Options of `TimerService.start`. */
export interface TimerServiceOptions {
  /** Timers pending at once (default 262144); a full table is E_CAPACITY. */
  capacity?: number;
  /** Bucket mode: threads share `hashedBuckets` hashed buckets, or claim one each (default 'per-thread'). */
  buckets?: BucketMode;
  /** Buckets in 'hashed' mode (default 13, as brpc); in 'per-thread' mode, threads that can claim one (default 32). */
  bucketCount?: number;
  /** Threads that can use setTimer at once (default 16). */
  setTimerThreads?: number;
}

/** What `stop` reports. */
export interface StopReport {
  /** Timers still scheduled when the service stopped (they will never fire). */
  pending: number;
}

/** Counters of a running service. */
export interface TimerStats {
  /** Timers scheduled and not yet fired or cancelled. */
  pending: number;
  /** Timers fired since the start. */
  fired: number;
  /** Entries in the timer thread's heap (cancelled ones until swept) and its bytes. */
  heapEntries: number;
  heapBytes: number;
  /** Bytes of the service's shared buffer, and of the timer table within it (per slot: ~20). */
  sharedBytes: number;
  tableBytes: number;
}

const entry = new URL('./timer-thread.ts', import.meta.url);
const RING_CAPACITY = 8192;
const INBOX_CAPACITY = 1 << 16;

export class TimerService {
  /** Plain data another thread attaches with (`TimerClient.attach(handle)`). */
  readonly handle: TimerHandle;
  readonly #block: TimerBlock;
  readonly #worker: Worker;
  readonly #port: MessagePort;
  #stopping: Promise<StopReport> | undefined;

  /** Starts the timer thread. */
  static async start(options: TimerServiceOptions = {}): Promise<TimerService> {
    const capacity = options.capacity ?? 262_144;
    requireInteger(capacity, 1, 2 ** 24, 'TimerService capacity');
    const mode = options.buckets ?? 'per-thread';
    if (mode !== 'hashed' && mode !== 'per-thread') {
      throw new WeftError(
        ErrorCode.INVALID_ARGUMENT,
        `buckets must be 'hashed' or 'per-thread', got ${String(mode)}`,
      );
    }
    const buckets = options.bucketCount ?? (mode === 'hashed' ? 13 : 32);
    requireInteger(buckets, 1, 1024, 'TimerService bucketCount');
    const builtinEndpoints = options.setTimerThreads ?? 16;
    requireInteger(builtinEndpoints, 1, MAX_ENDPOINTS - 1, 'TimerService setTimerThreads');
    const sizes: TimerSizes = {
      capacity,
      mode,
      buckets,
      ringCapacity: RING_CAPACITY,
      builtinEndpoints,
      inboxCapacity: INBOX_CAPACITY,
    };
    const block = TimerBlock.create(sizes);
    const { port1, port2 } = new MessageChannel();
    const workerData: TimerThreadData = { buffer: block.buffer, sizes, port: port2 };
    const worker = new Worker(entry, { workerData, transferList: [port2] });
    // 'online' comes before the thread's module has loaded: wait for its loop instead.
    const failed = new Promise<never>((_, reject) => worker.once('error', reject));
    const ready = Atomics.waitAsync(block.control, TimerControl.READY, 0).value;
    await Promise.race([ready, failed]);
    worker.removeAllListeners('error');
    worker.unref();
    return new TimerService(block, worker, port1);
  }

  private constructor(block: TimerBlock, worker: Worker, port: MessagePort) {
    this.#block = block;
    this.#worker = worker;
    this.#port = port;
    this.handle = { buffer: block.buffer, sizes: block.sizes };
  }

  /** This thread's client (the same object on each call). */
  client(): TimerClient {
    return TimerClient.attach(this.handle);
  }

  /**
   * Registers an endpoint that lives in another buffer: an MpscQueue (the inbox) and a ParkingLot
   * at the given offsets. Returns its index, usable in timer targets at once. Only the thread that
   * started the service registers endpoints.
   */
  addEndpoint(buffer: SharedArrayBuffer, inboxByteOffset: number, lotByteOffset: number): number {
    const control = this.#block.control;
    if (Atomics.load(control, TimerControl.STOP) !== 0) {
      throw new WeftError(ErrorCode.CLOSED, 'this timer service has been stopped');
    }
    // Attach here first: a wrong buffer or offset fails in the caller, not in the timer thread.
    MpscQueue.attach(buffer, inboxByteOffset);
    ParkingLot.attach(buffer, lotByteOffset);
    const external = Atomics.load(control, TimerControl.EXTERNAL_ENDPOINTS);
    const index = this.#block.sizes.builtinEndpoints + external;
    if (index >= MAX_ENDPOINTS) {
      throw new WeftError(
        ErrorCode.CAPACITY,
        `a timer service addresses at most ${MAX_ENDPOINTS} endpoints`,
      );
    }
    const registration: EndpointRegistration = { index, buffer, inboxByteOffset, lotByteOffset };
    this.#port.postMessage(registration);
    Atomics.store(control, TimerControl.EXTERNAL_ENDPOINTS, external + 1);
    // The timer thread reads its port before it fires anything, each time it wakes.
    this.#block.signal();
    return index;
  }

  /** Counters of the service (the heap figures are as of the timer thread's last wake-up). */
  stats(): TimerStats {
    const control = this.#block.control;
    return {
      pending: this.#block.table.pool.countInUse(),
      fired: Atomics.load(control, TimerControl.FIRED) >>> 0,
      heapEntries: Atomics.load(control, TimerControl.HEAP_ENTRIES),
      heapBytes: Atomics.load(control, TimerControl.HEAP_BYTES),
      sharedBytes: this.#block.buffer.byteLength,
      tableBytes: TimerTable.bytesFor(this.#block.sizes.capacity),
    };
  }

  /** Stops the timer thread; reports the timers that were still pending. Idempotent. */
  stop(): Promise<StopReport> {
    this.#stopping ??= (async () => {
      Atomics.store(this.#block.control, TimerControl.STOP, 1);
      this.#block.signal();
      // setTimer pumps park on these lots: let them end, their callbacks will never run.
      for (const lot of this.#block.lots) lot.stop();
      this.#worker.ref();
      await new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
      this.#port.close();
      return { pending: this.#block.table.pool.countInUse() };
    })();
    return this.#stopping;
  }
}
