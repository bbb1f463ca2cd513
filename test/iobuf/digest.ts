// A digest of bytes, to compare content across threads.
import { createHash } from 'node:crypto';

export function digest(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
