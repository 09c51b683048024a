/**
 * @module crypto/keys
 * Key and id generation. Randomness is always injected (see deps.ts).
 */
import type { RandomBytes } from '../base/deps.js';
import { bytesToHex } from './bytes.js';
import { boxKeyFromSecret, signingKeyFromSeed } from './curves.js';
import type { BoxKeyPair, SigningKeyPair } from './primitives.js';

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
