/**
 * @module identity/device-key
 * The key a vault lends its remote (`Remote.useDeviceKey`) and the message
 * it signs. Apart from remote-auth.ts so that an open vault, which knows
 * its own public key from its registry, lends one without the curve code
 * that derives a public key from a seed.
 */
import { concatBytes, ed25519Sign, hexToBytes, utf8 } from '../crypto/index.js';
import type { RemoteDeviceKey } from '../ports/remote.js';

/** Domain of every remote-auth signature; no object signature starts with it. */
export const REMOTE_AUTH_DOMAIN = 'kith/v1/remote-auth';

/** `kith/v1/remote-auth ‖ 0x00 ‖ vaultId (16 bytes) ‖ challenge`: what a {@link RemoteDeviceKey} signs. */
export function remoteAuthMessage(vaultId: string, challenge: Uint8Array): Uint8Array {
  return concatBytes(utf8(REMOTE_AUTH_DOMAIN), Uint8Array.of(0), hexToBytes(vaultId), challenge);
}

/** The {@link RemoteDeviceKey} of a signing seed whose public key `signPub` gives, read when a remote asks for it. */
export function deviceKeyOf(vaultId: string, signer: string, seed: Uint8Array, signPub: () => Uint8Array): RemoteDeviceKey {
  return {
    vaultId,
    signer,
    get signPub() {
      return signPub();
    },
    sign: (challenge) => ed25519Sign(seed, remoteAuthMessage(vaultId, challenge)),
  };
}
