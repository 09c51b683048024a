/**
 * @module crypto/password
 * The password key: Argon2id (hash-wasm, WebAssembly, runs in browsers
 * too) stretches a password into a seed for a signing and a box key pair,
 * exactly like the recovery code's keys. Parameters travel in the registry.
 */
import type { RandomBytes } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { utf8 } from './bytes.js';
import { hkdfSha256, type BoxKeyPair, type SigningKeyPair } from './primitives.js';

export interface Argon2Params {
  readonly memoryKiB: number;
  readonly iterations: number;
  readonly parallelism: number;
  readonly salt: Uint8Array;
}

/** About half a second on a 2-core VM (see docs/FORMAT.md "Password"). */
export const DEFAULT_ARGON2 = { memoryKiB: 64 * 1024, iterations: 3, parallelism: 1 } as const;
/** Refuse parameters that would take minutes or gigabytes (a hostile registry entry). */
const MAX_MEMORY_KIB = 1024 * 1024;
const MAX_ITERATIONS = 64;

export function newArgon2Params(random: RandomBytes, base: Omit<Argon2Params, 'salt'> = DEFAULT_ARGON2): Argon2Params {
  return { ...base, salt: random(16) };
}

/** The key pairs a password stands for under `params`. */
export async function passwordKeys(password: string, params: Argon2Params): Promise<{ sign: SigningKeyPair; box: BoxKeyPair }> {
  if (params.memoryKiB > MAX_MEMORY_KIB || params.iterations > MAX_ITERATIONS || params.parallelism < 1 || params.parallelism > 16) {
    throw new KithError(ErrorCode.IntegrityCorrupt, 'the password parameters in the registry are out of range');
  }
  // Loaded on first use: its WebAssembly bundle is most of what a CLI start would otherwise parse.
  const { argon2id } = await import('hash-wasm');
  const seed = await argon2id({
    password: password.normalize('NFC'),
    salt: params.salt,
    iterations: params.iterations,
    memorySize: params.memoryKiB,
    parallelism: params.parallelism,
    hashLength: 32,
    outputType: 'binary',
  });
  // `@kith/core` names this module (checkPassword), so the curve code comes on demand too.
  const { boxKeyFromSecret, signingKeyFromSeed } = await import('./curves.js');
  const salt = utf8('kith/v1/password');
  return { sign: signingKeyFromSeed(hkdfSha256(seed, salt, utf8('sign'), 32)), box: boxKeyFromSecret(hkdfSha256(seed, salt, utf8('box'), 32)) };
}

/**
 * A password shorter than this (in code points after NFC) is refused.
 * The registry entry is readable by anyone who can read the remote, so a
 * password is tested offline at one Argon2id run per guess (~0.3 s on one
 * core here, far less on a GPU rig): what holds is the password's own
 * strength. A length floor is the same rule on every device and version,
 * unlike an estimator whose dictionaries (and verdicts) change between
 * releases and would weigh on the browser bundle.
 */
export const MIN_PASSWORD_LENGTH = 12;
/** Fewer different characters than this is a pattern, not a password (`aaaaaaaaaaab`, `121212121212`). */
const MIN_DISTINCT = 5;

/**
 * Refuses passwords guessable offline: shorter than
 * {@link MIN_PASSWORD_LENGTH} code points, built from a handful of
 * characters, one unit repeated (`passwordpassword`), or a run with a
 * constant step (`abcdefghijkl`, `zyxwvutsrqpo`). Only new passwords are
 * checked: restoring with an older one keeps working.
 *
 * @throws KithError `KITH_WEAK_PASSWORD` saying which rule it broke.
 */
export function checkPassword(password: string): void {
  const cps = [...password.normalize('NFC')].map((c) => c.codePointAt(0)!);
  const weak = (why: string) =>
    new KithError(ErrorCode.WeakPassword, `the password is too easy to guess: ${why}`, {
      hint: `use at least ${MIN_PASSWORD_LENGTH} characters, e.g. four or five unrelated words`,
    });
  if (cps.length < MIN_PASSWORD_LENGTH) throw weak(`${cps.length} characters, fewer than ${MIN_PASSWORD_LENGTH}`);
  if (new Set(cps).size < MIN_DISTINCT) throw weak(`fewer than ${MIN_DISTINCT} different characters`);
  if (period(cps) <= cps.length / 2) throw weak('one short sequence repeated');
  if (cps.every((c, i) => i < 2 || c - cps[i - 1]! === cps[1]! - cps[0]!)) throw weak('a run of consecutive characters');
}

/** The smallest p with s[i] = s[i - p] for every i ≥ p (s.length when there is none). */
function period(s: readonly number[]): number {
  for (let p = 1; p < s.length; p++) if (s.every((c, i) => i < p || c === s[i - p])) return p;
  return s.length;
}
