/**
 * @module crypto/curves
 * What needs @noble/curves (Ed25519 public keys from seeds, X25519): making
 * keys, sealing and opening epoch keys, pairing. Kept out of primitives.ts
 * so that the code a page needs to open a vault and sync does not bring the
 * curve arithmetic (about 10 KiB gzipped) with it; the modules that call
 * these are loaded on demand. The recovery code's key pairs are here rather
 * than in recovery.ts, which `@kith/core` names (`parseRecoveryCode`) and
 * so every page loads.
 */
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { utf8 } from './bytes.js';
import { platformCurves, type CurveOps } from './native-curves.js';
import { hkdfSha256, type BoxKeyPair, type SigningKeyPair } from './primitives.js';

/** The audited pure-JS curves: everywhere the platform's are not reachable synchronously (browsers). */
export const nobleCurves: CurveOps = {
  edPub: (seed) => ed25519.getPublicKey(seed),
  xPub: (secret) => x25519.getPublicKey(secret),
  xShared: (secret, pub) => x25519.getSharedSecret(secret, pub),
};

/** Chosen on first use: the platform's where it passes its test vectors (native-curves.ts), same bytes, a tenth of the CPU. */
let ops: CurveOps | undefined;
const curves = (): CurveOps => (ops ??= platformCurves() ?? nobleCurves);

export function signingKeyFromSeed(seed: Uint8Array): SigningKeyPair {
  return { seed, pub: curves().edPub(seed) };
}

export function boxKeyFromSecret(secret: Uint8Array): BoxKeyPair {
  return { secret, pub: curves().xPub(secret) };
}

/** X25519 shared secret; an all-zero result (low-order point) is refused. */
export function x25519Shared(secret: Uint8Array, pub: Uint8Array): Uint8Array {
  try {
    return curves().xShared(secret, pub);
  } catch (cause) {
    throw new KithError(ErrorCode.IntegrityCorrupt, 'invalid X25519 public key', { cause });
  }
}

/** The key pairs a recovery secret stands for. */
export function recoveryKeys(secret: Uint8Array): { sign: SigningKeyPair; box: BoxKeyPair } {
  const salt = utf8('kith/v1/recovery');
  return {
    sign: signingKeyFromSeed(hkdfSha256(secret, salt, utf8('sign'), 32)),
    box: boxKeyFromSecret(hkdfSha256(secret, salt, utf8('box'), 32)),
  };
}
