/**
 * SharedLayout: plans one SharedArrayBuffer that holds many structures.
 *
 * weft lays out all of a runtime's shared state in one buffer, computed in one place: reserve a
 * region per structure (its `bytesFor(...)`), then allocate the buffer and create each structure
 * at its offset. Every region starts on a cache line, so structures written by different threads
 * never share one.
 */
import { requireInteger } from './checks.ts';
import { alignToLine } from './region.ts';

export class SharedLayout {
  #byteLength = 0;

  /** Reserves `bytes` bytes and returns the region's byte offset (a multiple of 64). */
  reserve(bytes: number): number {
    requireInteger(bytes, 0, Number.MAX_SAFE_INTEGER, 'SharedLayout.reserve bytes');
    const offset = this.#byteLength;
    this.#byteLength = alignToLine(offset + bytes);
    return offset;
  }

  /** Total bytes reserved so far, a multiple of 64. */
  get byteLength(): number {
    return this.#byteLength;
  }

  /** A new zero-filled SharedArrayBuffer of `byteLength` bytes. */
  allocate(): SharedArrayBuffer {
    return new SharedArrayBuffer(this.#byteLength);
  }
}
