/**
 * @module sync/local-keys
 * Sealing and unsealing a device's secrets in its store with a local
 * passphrase (see crypto/local-seal.ts): the device's private keys and
 * every epoch key it keeps.
 */
import { localSealKey, newLocalSealParams, openLocal, sealLocal, utf8 } from '../crypto/index.js';
import type { RandomBytes } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import type { DeviceMeta } from '../ports/store-meta.js';

const SEALED = 'sealed:';

export interface PlainSecrets {
  device: DeviceMeta;
  epochs: Record<string, string>;
}

export async function sealEpochValue(key: Uint8Array, b64Key: string, random: RandomBytes): Promise<string> {
  return SEALED + (await sealLocal(key, utf8(b64Key), random));
}

/** Seals plain secrets under a new passphrase; returns what to store and the sealing key. */
export async function sealSecrets(plain: PlainSecrets, passphrase: string, random: RandomBytes): Promise<PlainSecrets & { key: Uint8Array }> {
  const params = newLocalSealParams(random);
  const key = await localSealKey(passphrase, params);
  const secrets = await sealLocal(key, utf8(JSON.stringify({ signSeed: plain.device.signSeed, boxSecret: plain.device.boxSecret })), random);
  const epochs: Record<string, string> = {};
  for (const [e, v] of Object.entries(plain.epochs)) epochs[e] = await sealEpochValue(key, v, random);
  return { device: { deviceId: plain.device.deviceId, name: plain.device.name, signSeed: '', boxSecret: '', sealed: { params, secrets } }, epochs, key };
}

/** The plain secrets of a store (sealed or not); `key` is set when they were sealed. */
export async function unsealSecrets(stored: PlainSecrets, passphrase: string | undefined): Promise<PlainSecrets & { key?: Uint8Array }> {
  const sealed = stored.device.sealed;
  if (!sealed) return stored;
  if (passphrase === undefined) {
    throw new KithError(ErrorCode.Locked, "this device's keys are sealed by a local passphrase", {
      hint: 'give the local passphrase that sealed them',
      reason: 'passphrase-needed',
    });
  }
  const key = await localSealKey(passphrase, sealed.params);
  const secrets = JSON.parse(new TextDecoder().decode(await openLocal(key, sealed.secrets))) as { signSeed: string; boxSecret: string };
  const epochs: Record<string, string> = {};
  for (const [e, v] of Object.entries(stored.epochs)) {
    epochs[e] = v.startsWith(SEALED) ? new TextDecoder().decode(await openLocal(key, v.slice(SEALED.length))) : v;
  }
  return { device: { deviceId: stored.device.deviceId, name: stored.device.name, ...secrets }, epochs, key };
}
