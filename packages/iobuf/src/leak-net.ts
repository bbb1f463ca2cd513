/**
 * LeakNet: what happens to an IOBuf that is garbage-collected without `release()`.
 *
 * JavaScript has no destructors, so blocks go back to the pool when their IOBufs are released
 * explicitly (`release()`, `using`). A FinalizationRegistry catches the ones that were not: each
 * IOBuf is registered when it first refers to a block, with its reference array as the held
 * value (the array, not the IOBuf, so the registry does not keep the IOBuf alive). When such an
 * IOBuf is collected, the net drops its references — the blocks are not lost — counts it, and
 * reports it: a process warning ('report', rate-limited to counts 1, 10, 100, ...) or an uncaught
 * E_LEAKED error ('throw', for tests and debugging).
 *
 * Registering with a FinalizationRegistry is what costs: ~70 ns to register and as much to
 * unregister, and a registered object costs the collector work in every GC (in the framing
 * benchmark, a new IOBuf per message ran 2.3× slower with the net than without, and spent 175 ms
 * instead of 10 ms in GC). Most IOBufs live for microseconds — a frame cut, read and released — so
 * new IOBufs first wait in a nursery: a plain list, flushed at the next macrotask (setImmediate)
 * or when it holds NURSERY of them. The flush registers only those still unreleased; one released
 * before it never touches the registry. The price: an IOBuf dropped without release is reported
 * after the flush rather than at the first GC, and a thread that never returns to its event loop
 * holds at most NURSERY - 1 unreleased IOBufs unwatched. 'off' skips the net entirely.
 */
import { ErrorCode, WeftError } from '@weft/shm';

/** What the leak net does with an IOBuf collected without release. */
export type LeakCheck = 'off' | 'report' | 'throw';

/** The part of a pool the net needs: dropping the references a collected IOBuf held. */
interface Holder {
  drop(block: number): void;
}

/** What the net watches: an IOBuf, which says whether it was released. */
interface Watched {
  readonly released: boolean;
}

/** New IOBufs the nursery holds before a flush. */
const NURSERY = 256;

export class LeakNet {
  /** IOBufs collected without release on this thread so far. */
  leaked = 0;
  readonly #registry: FinalizationRegistry<number[]> | undefined;
  readonly #holder: Holder;
  readonly #mode: LeakCheck;
  // The nursery: owners and their reference arrays, not yet registered.
  readonly #owners: Watched[] = [];
  readonly #refs: number[][] = [];
  #flushScheduled = false;
  // Flushes so far: an owner tracked in the current generation is still in the nursery.
  #generation = 0;

  constructor(holder: Holder, mode: LeakCheck) {
    if (mode !== 'off' && mode !== 'report' && mode !== 'throw') {
      throw new WeftError(
        ErrorCode.INVALID_ARGUMENT,
        `leakCheck must be 'off', 'report' or 'throw', got ${String(mode)}`,
      );
    }
    this.#holder = holder;
    this.#mode = mode;
    this.#registry =
      mode === 'off' ? undefined : new FinalizationRegistry((refs) => this.#collected(refs));
  }

  /**
   * Watches `owner`; `refs` are its (block, offset, length) triples, block -1 when consumed.
   * Returns the generation to hand back to `untrack` (0 or more, also when the net is off).
   */
  track(owner: Watched, refs: number[]): number {
    if (this.#registry === undefined) return 0;
    const generation = this.#generation; // (the flush below registers `owner` if it is full)
    this.#owners.push(owner);
    this.#refs.push(refs);
    if (this.#owners.length >= NURSERY) {
      this.#flush();
    } else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#scheduledFlush);
    }
    return generation;
  }

  /** Stops watching `owner`, released now, which `track` gave `generation`. */
  untrack(owner: Watched, generation: number): void {
    // Still in the nursery: the flush will see it released and skip it.
    if (generation !== this.#generation) this.#registry?.unregister(owner);
  }

  readonly #scheduledFlush = () => {
    this.#flushScheduled = false;
    this.#flush();
  };

  #flush(): void {
    const owners = this.#owners;
    const refs = this.#refs;
    for (let i = 0; i < owners.length; i++) {
      if (!owners[i].released) this.#registry?.register(owners[i], refs[i], owners[i]);
    }
    owners.length = 0;
    refs.length = 0;
    this.#generation++;
  }

  #collected(refs: number[]): void {
    for (let i = 0; i < refs.length; i += 3) if (refs[i] >= 0) this.#holder.drop(refs[i]);
    const count = ++this.leaked;
    const message =
      `${count} IOBuf${count === 1 ? ' was' : 's were'} garbage-collected without release() ` +
      'on this thread; their blocks were returned to the pool. Release IOBufs (or use `using`).';
    if (this.#mode === 'throw') throw new WeftError(ErrorCode.LEAKED, message);
    if (/^10*$/.test(String(count))) process.emitWarning(message, { code: ErrorCode.LEAKED });
  }
}
