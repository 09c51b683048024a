/**
 * @module remote-auth
 * What a remote that authenticates devices (the relay) needs from the core:
 * the key a vault hands its remote (`Remote.useDeviceKey`), a
 * signature over the remote's challenge that can never pass for the
 * signature of a Kith object, and a replay of `vault` + `registry/*` into
 * the signers the registry admits now, so a server never re-implements the
 * chain rules. See docs/FORMAT.md "Remote authentication".
 */
import { bytesToHex, ed25519Verify, signingKeyFromSeed } from '../crypto/index.js';
import { ErrorCode, KithError } from '../base/errors.js';
import type { RemoteDeviceKey } from '../ports/remote.js';
export type { RemoteDeviceKey };
import { decodeVaultHeader, type PasswordParams, type VaultHeader } from '../format/index.js';
import { DeviceRegistry, initialRegistry } from './registry.js';
import { deviceKeyOf, remoteAuthMessage } from './device-key.js';

export { REMOTE_AUTH_DOMAIN, remoteAuthMessage } from './device-key.js';

/**
 * The {@link RemoteDeviceKey} of a signing seed.
 *
 * @example
 * lendDeviceKey(remote, remoteDeviceKey(vaultId, deviceId, signSeed));
 */
export function remoteDeviceKey(vaultId: string, signer: string, seed: Uint8Array): RemoteDeviceKey {
  // Derived on first read: most vault opens never meet a remote that asks, and the first derivation costs ~50 ms of CPU (noble builds its tables).
  let pub: Uint8Array | undefined;
  return deviceKeyOf(vaultId, signer, seed, () => (pub ??= signingKeyFromSeed(seed).pub));
}

/** Checks a {@link RemoteDeviceKey} signature; false for any malformed input. */
export function verifyRemoteAuth(vaultId: string, signPub: Uint8Array, challenge: Uint8Array, signature: Uint8Array): Promise<boolean> {
  if (!/^[0-9a-f]{32}$/.test(vaultId)) return Promise.resolve(false);
  return ed25519Verify(signPub, remoteAuthMessage(vaultId, challenge), signature);
}

/**
 * The registry of one vault as a server sees it: the header's recovery key
 * as anchor, then every entry verified in order. Grows one entry at a time
 * ({@link RegistryReplay.next}), so a server that caches it pays only for
 * what is new.
 */
export class RegistryReplay {
  readonly header: VaultHeader;
  readonly #registry: DeviceRegistry;

  private constructor(header: VaultHeader, registry: DeviceRegistry) {
    this.header = header;
    this.#registry = registry;
  }

  /** Starts from the `vault` object's bytes (verified against the key it carries). */
  static async start(headerBytes: Uint8Array): Promise<RegistryReplay> {
    const header = await decodeVaultHeader(headerBytes);
    return new RegistryReplay(header, new DeviceRegistry(header.vaultId, initialRegistry(header.recoverySignPub, header.recoveryBoxPub)));
  }

  get vaultId(): string {
    return this.header.vaultId;
  }

  /** Entries verified so far. */
  get seq(): number {
    return this.#registry.seq;
  }

  /** Hash (hex) of the last verified entry ('' before the first). */
  get hash(): string {
    return this.#registry.seq === 0 ? '' : bytesToHex(this.#registry.hash);
  }

  /** Verifies and applies the next entry; throws (a KITH_INTEGRITY_* error), changing nothing, if a reader must refuse it. */
  async next(entryBytes: Uint8Array): Promise<void> {
    await this.#registry.applyNext(entryBytes);
  }

  /** A copy that can try an entry without touching this one. */
  fork(): RegistryReplay {
    return new RegistryReplay(this.header, new DeviceRegistry(this.header.vaultId, this.#registry.state));
  }

  /** The signing key of a signer the registry admits now (`recovery`, `password`, an unrevoked device); undefined otherwise. */
  signPubOf(signer: string): Uint8Array | undefined {
    return this.#registry.signPubOf(signer);
  }

  /** The password key's Argon2id parameters and signing key, if a password is set. */
  passwordParams(): (PasswordParams & { signPub: Uint8Array }) | undefined {
    return this.#registry.passwordParams();
  }

  /** True when `signer` is a device the registry added and then revoked. */
  revoked(signer: string): boolean {
    return this.#registry.device(signer)?.revoked !== undefined;
  }

  /** Every signer admitted now: `recovery`, `password` if set, and each unrevoked device. */
  signers(): string[] {
    const out = ['recovery'];
    if (this.#registry.passwordParams()) out.push('password');
    for (const [id, d] of this.#registry.devices()) if (!d.revoked) out.push(id);
    return out;
  }
}

/**
 * Replays a vault's header and registry entries (in seq order) into the
 * signers admitted now. Stops at the first entry a reader must refuse and
 * returns the verified prefix with the reason, which is what every device
 * believes too.
 *
 * @example
 * const { replay } = await replayRegistry(headerBytes, entries);
 * replay.signPubOf(deviceId); // undefined once the device is revoked
 */
export async function replayRegistry(headerBytes: Uint8Array, entries: Iterable<Uint8Array>): Promise<{ replay: RegistryReplay; refused?: KithError }> {
  const replay = await RegistryReplay.start(headerBytes);
  for (const bytes of entries) {
    try {
      await replay.next(bytes);
    } catch (e) {
      const refused = KithError.is(e) ? e : new KithError(ErrorCode.IntegrityCorrupt, `registry entry ${replay.seq + 1} is unreadable`, { cause: e });
      return { replay, refused };
    }
  }
  return { replay };
}
