/**
 * @module crypto/keys
 * Key and id generation. Randomness is always injected (see deps.ts).
 */
import type { RandomBytes } from '../base/deps.js';
import { bytesToHex } from './bytes.js';
import { boxKeyFromSecret, signingKeyFromSeed, type BoxKeyPair, type SigningKeyPair } from './primitives.js';

/** A device's identity: its id and its two key pairs. */
export interface DeviceKeys {
  /** 8 random bytes as 16 lowercase hex characters. */
  readonly deviceId: string;
  readonly sign: SigningKeyPair;
  readonly box: BoxKeyPair;
}

export function generateDeviceKeys(random: RandomBytes): DeviceKeys {
  return {
    deviceId: bytesToHex(random(8)),
    sign: signingKeyFromSeed(random(32)),
    box: boxKeyFromSecret(random(32)),
  };
}

/** 16 random bytes as 32 lowercase hex characters. */
export const newVaultId = (random: RandomBytes): string => bytesToHex(random(16));

/** A fresh 32-byte epoch (vault data) key. */
export const newEpochKey = (random: RandomBytes): Uint8Array => random(32);

/**
 * PADMÉ padding (Nikitin et al., PETS 2019): the padded length reveals at
 * most O(log log n) bits of the true length, with ≤ 12% overhead.
 */
export function padme(length: number): number {
  if (length < 2) return length;
  const e = Math.floor(Math.log2(length));
  const s = Math.floor(Math.log2(e)) + 1;
  const lastBits = e - s;
  const mask = 2 ** lastBits - 1;
  // (length + mask) & ~mask, written with arithmetic so it stays exact past 2^31.
  return Math.ceil(length / (mask + 1)) * (mask + 1);
}
