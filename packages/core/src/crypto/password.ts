/**
 * @module crypto/password
 * The password key: Argon2id (hash-wasm, WebAssembly, runs in browsers
 * too) stretches a password into a seed for a signing and a box key pair,
 * exactly like the recovery code's keys. Parameters travel in the registry.
 */
import type { RandomBytes } from '../deps.js';
import { ErrorCode, KithError } from '../errors.js';
import { utf8 } from './bytes.js';
import { boxKeyFromSecret, hkdfSha256, signingKeyFromSeed, type BoxKeyPair, type SigningKeyPair } from './primitives.js';

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
export const MIN_PASSWORD_LENGTH = 8;

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
  const salt = utf8('kith/v1/password');
  return { sign: signingKeyFromSeed(hkdfSha256(seed, salt, utf8('sign'), 32)), box: boxKeyFromSecret(hkdfSha256(seed, salt, utf8('box'), 32)) };
}

/** Refuses passwords too short to be worth stretching. */
export function checkPassword(password: string): void {
  if ([...password].length < MIN_PASSWORD_LENGTH) {
    throw new KithError(ErrorCode.BadInput, `the password is too short (at least ${MIN_PASSWORD_LENGTH} characters)`);
  }
}
