/**
 * @module crypto/recovery
 * The recovery code: 128 random bits a person can type, with a version byte
 * and a checksum so a typo is caught before any key derivation runs.
 */
import { base32crockford } from '@scure/base';
import type { RandomBytes } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { bytesEqual, concatBytes, utf8 } from './bytes.js';
import { sha256Sync } from './primitives.js';

export const RECOVERY_VERSION = 1;
const SECRET_BYTES = 16;
const CHECK_BYTES = 3;
const CODE_CHARS = 32; // 20 bytes in base32

function checksum(version: number, secret: Uint8Array): Uint8Array {
  return sha256Sync(concatBytes(utf8('kith/v1/recovery-check'), Uint8Array.of(version), secret)).subarray(0, CHECK_BYTES);
}

/** Formats a recovery secret as `XXXX-XXXX-…` (8 groups of 4 Crockford base32 characters). */
export function formatRecoveryCode(secret: Uint8Array): string {
  const raw = concatBytes(Uint8Array.of(RECOVERY_VERSION), secret, checksum(RECOVERY_VERSION, secret));
  return base32crockford.encode(raw).match(/.{4}/g)!.join('-');
}

/** A fresh recovery code and the secret it encodes. */
export function generateRecoveryCode(random: RandomBytes): { code: string; secret: Uint8Array } {
  const secret = random(SECRET_BYTES);
  return { code: formatRecoveryCode(secret), secret };
}

const mistyped = (why: string): KithError =>
  new KithError(ErrorCode.BadRecoveryCode, `the recovery code looks mistyped (${why})`, {
    hint: 'copy it again: 32 characters in 8 groups of 4, like ABCD-EFGH-…',
  });

/**
 * Parses a recovery code, ignoring case, spaces and dashes and accepting
 * Crockford's aliases (O→0, I/L→1). Synchronous; no key derivation.
 */
export function parseRecoveryCode(text: string): Uint8Array {
  const clean = text.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  if (clean.length !== CODE_CHARS) throw mistyped(`${clean.length} characters instead of ${CODE_CHARS}`);
  if (!/^[0-9A-HJKMNP-TV-Z]+$/.test(clean)) throw mistyped('it contains a character that is not in the alphabet');
  const raw = base32crockford.decode(clean);
  const version = raw[0]!;
  if (version !== RECOVERY_VERSION) throw mistyped(`unknown version ${version}`);
  const secret = raw.subarray(1, 1 + SECRET_BYTES);
  if (!bytesEqual(raw.subarray(1 + SECRET_BYTES), checksum(version, secret))) throw mistyped('checksum mismatch');
  return secret.slice();
}
