/**
 * @module crypto/password-keys
 * The key pairs a vault password stands for: Argon2id (hash-wasm, loaded on
 * first use) stretches it into a seed, HKDF splits the seed into a signing
 * and a box key, as for the recovery code. Apart from password.ts (the
 * rules a new password must meet), which every page loads.
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { utf8 } from './bytes.js';
import { boxKeyFromSecret, signingKeyFromSeed } from './curves.js';
import type { Argon2Params } from './password.js';
import { hkdfSha256, type BoxKeyPair, type SigningKeyPair } from './primitives.js';

/** Refuse parameters that would take minutes or gigabytes (a hostile registry entry). */
const MAX_MEMORY_KIB = 1024 * 1024;
const MAX_ITERATIONS = 64;

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
