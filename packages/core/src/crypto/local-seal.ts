/**
 * @module crypto/local-seal
 * Optional protection of a device's secrets at rest: a key stretched from
 * a local passphrase with Argon2id seals the device's private keys and the
 * epoch keys it holds in its store. The passphrase never leaves the device.
 */
import type { RandomBytes } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { fromBase64url, toBase64url, utf8, concatBytes } from './bytes.js';
import { aesGcmDecrypt, aesGcmEncrypt } from './primitives.js';
import { DEFAULT_ARGON2 } from './password.js';

export interface LocalSealParams {
  readonly salt: string;
  readonly memoryKiB: number;
  readonly iterations: number;
  readonly parallelism: number;
}

const AAD = utf8('kith/v1/local-seal');

export function newLocalSealParams(random: RandomBytes): LocalSealParams {
  return { salt: toBase64url(random(16)), ...DEFAULT_ARGON2 };
}

/** The sealing key for a passphrase (about half a second of Argon2id). */
export async function localSealKey(passphrase: string, p: LocalSealParams): Promise<Uint8Array> {
  if (passphrase === '') throw new KithError(ErrorCode.BadInput, 'the local passphrase is empty');
  // Loaded on first use: its WebAssembly bundle is most of what a CLI start would otherwise parse.
  const { argon2id } = await import('hash-wasm');
  return argon2id({
    password: passphrase.normalize('NFC'),
    salt: fromBase64url(p.salt),
    iterations: p.iterations,
    memorySize: p.memoryKiB,
    parallelism: p.parallelism,
    hashLength: 32,
    outputType: 'binary',
  });
}

/** `nonce ‖ ciphertext` as base64url. */
export async function sealLocal(key: Uint8Array, plain: Uint8Array, random: RandomBytes): Promise<string> {
  const nonce = random(12);
  return toBase64url(concatBytes(nonce, await aesGcmEncrypt(key, nonce, plain, AAD)));
}

/** Opens what {@link sealLocal} sealed; a wrong key is KITH_WRONG_PASSPHRASE. */
export async function openLocal(key: Uint8Array, sealed: string): Promise<Uint8Array> {
  const b = fromBase64url(sealed);
  try {
    return await aesGcmDecrypt(key, b.subarray(0, 12), b.subarray(12), AAD);
  } catch {
    throw new KithError(ErrorCode.WrongPassphrase, 'wrong local passphrase for this device', {
      hint: "give the passphrase that protects this device's keys",
      reason: 'passphrase-wrong',
    });
  }
}
