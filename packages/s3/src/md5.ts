/**
 * @module md5
 * The hex MD5 of a body, to check it against its single-part ETag: Node's
 * native hash here; browsers get md5-browser.ts (package.json `browser`).
 */
import { createHash } from 'node:crypto';

export function md5Hex(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('hex');
}
