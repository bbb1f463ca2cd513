/**
 * Timer targets: what a timer does when it fires, packed in one int32.
 *
 * A target names an *endpoint* — an inbox (an MpscQueue of int32) and a ParkingLot, usually a
 * thread's — and optionally a *token*. Firing pushes the token into the endpoint's inbox and
 * signals its lot; the thread that owns the endpoint drains the inbox and decides what each token
 * means (resume that fiber, run that callback). With no token, firing only signals the lot: a
 * plain wake-up, for a thread parked until a deadline. Closures never cross threads: only these
 * numbers do.
 *
 * `target = endpoint << TOKEN_BITS | token`, with NO_TOKEN for a plain wake-up.
 */

/** Bits of the token: tokens are 0 .. 2^25 - 2. */
export const TOKEN_BITS = 25;
/** The token value that means "no token: only wake the endpoint". */
export const NO_TOKEN = 2 ** TOKEN_BITS - 1;
/** Endpoints a timer service can address (7 bits). */
export const MAX_ENDPOINTS = 128;

/** Packs an endpoint and a token (or NO_TOKEN). */
export function encodeTarget(endpoint: number, token: number): number {
  return (endpoint << TOKEN_BITS) | token;
}

/** The endpoint of a packed target. */
export function endpointOf(target: number): number {
  return target >>> TOKEN_BITS;
}

/** The token of a packed target (NO_TOKEN for a plain wake-up). */
export function tokenOf(target: number): number {
  return target & NO_TOKEN;
}
