/**
 * @module sync/registry
 * The device registry: which signing keys may write to this vault. Every
 * entry is signed by the recovery key or by a device already in the
 * registry; entries are verified on first sight and cached locally, so a
 * remote cannot later swap a device's keys.
 */
import { ErrorCode, KithError } from '../errors.js';
import { decodeDeviceEntry, remoteKeys } from '../format/index.js';
import type { Remote } from '../remote.js';
import { b64, unb64, type RegistryEntry } from './meta.js';

export class DeviceRegistry {
  readonly #entries: Map<string, RegistryEntry>;
  readonly #vaultId: string;
  readonly #recoverySignPub: Uint8Array;

  constructor(vaultId: string, recoverySignPub: Uint8Array, entries: Record<string, RegistryEntry> = {}) {
    this.#vaultId = vaultId;
    this.#recoverySignPub = recoverySignPub;
    this.#entries = new Map(Object.entries(entries));
  }

  get(deviceId: string): RegistryEntry | undefined {
    return this.#entries.get(deviceId);
  }

  has(deviceId: string): boolean {
    return this.#entries.has(deviceId);
  }

  /** Verified entries, for saving to the store. */
  toJSON(): Record<string, RegistryEntry> {
    return Object.fromEntries(this.#entries);
  }

  add(deviceId: string, entry: RegistryEntry): void {
    this.#entries.set(deviceId, entry);
  }

  /** Signing public key of a signer id ('recovery' or a registered device). */
  signPubOf = (signerId: string): Uint8Array | undefined => {
    if (signerId === 'recovery') return this.#recoverySignPub;
    const e = this.#entries.get(signerId);
    return e ? unb64(e.signPub) : undefined;
  };

  /**
   * Makes sure `deviceId` is registered, fetching and verifying its entry
   * (and, recursively, its adder's) from the remote. Returns false if the
   * remote holds no entry for it. Throws KITH_INTEGRITY_* for a bad entry.
   */
  async ensure(remote: Remote, deviceId: string, depth = 0): Promise<boolean> {
    if (this.#entries.has(deviceId)) return true;
    if (depth > 64) throw new KithError(ErrorCode.IntegrityUnknownSigner, `device ${deviceId}: registry chain too deep`);
    const bytes = await remote.get(remoteKeys.device(deviceId));
    if (!bytes) return false;
    const entry = await decodeDeviceEntry(bytes, { vaultId: this.#vaultId, deviceId }, (signer) => this.signPubOf(signer)).catch(
      async (e: unknown) => {
        // The adder may be a device we have not met yet: fetch it, then retry once.
        if (KithError.is(e, ErrorCode.IntegrityUnknownSigner)) {
          const adder = await peekAdder(bytes);
          if (adder && adder !== deviceId && (await this.ensure(remote, adder, depth + 1))) {
            return decodeDeviceEntry(bytes, { vaultId: this.#vaultId, deviceId }, (signer) => this.signPubOf(signer));
          }
        }
        throw e;
      },
    );
    this.#entries.set(deviceId, {
      name: entry.name,
      signPub: b64(entry.signPub),
      boxPub: b64(entry.boxPub),
      addedAt: entry.addedAt,
      addedBy: entry.addedBy,
    });
    return true;
  }
}

/** Reads the unverified `addedBy` of a device entry (only to know whom to fetch next). */
async function peekAdder(bytes: Uint8Array): Promise<string | undefined> {
  // Layout (docs/FORMAT.md): preamble 6, deviceId 8, signPub 32, boxPub 32, addedAt 8, addedBy u8 len + ASCII.
  const at = 6 + 8 + 32 + 32 + 8;
  const len = bytes[at];
  if (len === undefined || at + 1 + len > bytes.length) return undefined;
  return new TextDecoder().decode(bytes.subarray(at + 1, at + 1 + len));
}
