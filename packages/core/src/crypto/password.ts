/**
 * @module crypto/password
 * The vault password: its Argon2id parameters (they travel in the
 * registry) and the rules a new password must meet. The key derivation
 * (Argon2id through hash-wasm, WebAssembly, runs in browsers too, then a
 * signing and a box key pair as for the recovery code) is in
 * password-keys.ts: `@kith/core` names this module (`checkPassword`), so
 * every page loads it, and the derivation needs the curve code that only
 * pages using a password should fetch.
 */
import type { RandomBytes } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';

export interface Argon2Params {
  readonly memoryKiB: number;
  readonly iterations: number;
  readonly parallelism: number;
  readonly salt: Uint8Array;
}

/** About half a second on a 2-core VM (see docs/FORMAT.md "Password"). */
export const DEFAULT_ARGON2 = { memoryKiB: 64 * 1024, iterations: 3, parallelism: 1 } as const;

export function newArgon2Params(random: RandomBytes, base: Omit<Argon2Params, 'salt'> = DEFAULT_ARGON2): Argon2Params {
  return { ...base, salt: random(16) };
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
