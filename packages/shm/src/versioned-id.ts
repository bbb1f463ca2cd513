/**
 * Versioned ids: one number that names a slot and a generation of that slot.
 *
 * After brpc's bthread_t (ResourcePool slot + version): `id = version * 2**32 + slot`. The version
 * has 21 bits so the id stays a safe integer (2^21 * 2^32 = 2^53); it starts at 1, is never 0 (so
 * 0 is never a valid id) and is bumped each time the slot is freed, wrapping from 2^21 - 1 back
 * to 1. A holder of an old id therefore sees a version mismatch instead of someone else's data.
 * Task ids, timer ids, subscriber ids and correlation ids all use this one scheme.
 */

/** The largest version; the one after it is 1 again. */
export const MAX_VERSION = 2 ** 21 - 1;

/** Slots per version: the slot is the id's low 32 bits. */
export const SLOT_SPACE = 2 ** 32;

/** The id of `slot` at `version`. */
export function makeId(version: number, slot: number): number {
  return version * SLOT_SPACE + slot;
}

/** The slot an id names (its low 32 bits); meaningful only for a well-formed id. */
export function slotOf(id: number): number {
  return id >>> 0;
}

/** The version an id carries; meaningful only for a well-formed id. */
export function versionOf(id: number): number {
  return (id - (id >>> 0)) / SLOT_SPACE;
}

/** The version a slot gets when it is freed at `version`. */
export function nextVersion(version: number): number {
  return version === MAX_VERSION ? 1 : version + 1;
}

/** True when `id` has the shape of a versioned id: a safe integer with a version in 1..2^21-1. */
export function isWellFormedId(id: unknown): id is number {
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= SLOT_SPACE;
}
