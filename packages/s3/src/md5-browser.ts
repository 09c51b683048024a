/**
 * @module md5-browser
 * md5.ts for browsers, which have no MD5 in WebCrypto: @noble/hashes' audited
 * one. Used only to detect a torn or altered body, never for security.
 */
import { md5 } from '@noble/hashes/legacy.js';
import { bytesToHex } from '@noble/hashes/utils.js';

export function md5Hex(bytes: Uint8Array): string {
  return bytesToHex(md5(bytes));
}
