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
 * Registering costs ~70 ns and unregistering as much, once per IOBuf life (not per operation);
 * 'off' skips both.
 */
import { ErrorCode, WeftError } from '@weft/shm';

/** What the leak net does with an IOBuf collected without release. */
export type LeakCheck = 'off' | 'report' | 'throw';

/** The part of a pool the net needs: dropping the references a collected IOBuf held. */
interface Holder {
  drop(block: number): void;
}

export class LeakNet {
  /** IOBufs collected without release on this thread so far. */
  leaked = 0;
  readonly #registry: FinalizationRegistry<number[]> | undefined;
  readonly #holder: Holder;
  readonly #mode: LeakCheck;

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

  /** Watches `owner`; `refs` are its (block, offset, length) triples, block -1 when consumed. */
  track(owner: object, refs: number[]): void {
    this.#registry?.register(owner, refs, owner);
  }

  /** Stops watching `owner` (it was released). */
  untrack(owner: object): void {
    this.#registry?.unregister(owner);
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
