/**
 * @module server/auth/writes
 * Writes the relay checks beyond "is this a registered device": the vault
 * header (creation: once, optionally gated by an invite token), registry
 * entries (append-only, each verified as the next link before it is
 * stored, since the relay's own authentication rests on them), the pairing
 * mailbox without a token, and the per-vault quota on everything.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ErrorCode, isIntegrityError, remoteKeys } from '@kith/core/adapter';
import { decodeVaultHeader } from '@kith/core/relay';
import type { RelayStorage } from '../relay-storage.js';
import { pairingMessage, RelayError } from './access.js';
import type { QuotaMeter } from './limits.js';
import { registrySeqOf, type RegistryCache } from './registry-cache.js';
import type { Principal } from './relay-auth.js';

/** What a put did: stored the bytes, or left an object that must not change in place. */
export type PutOutcome = 'written' | 'exists';

/** The checked write path of one relay process. */
export class GuardedWrites {
  readonly #db: RelayStorage;
  readonly #registries: RegistryCache;
  readonly #quota: QuotaMeter;
  readonly #invite: Buffer | undefined;

  constructor(db: RelayStorage, registries: RegistryCache, quota: QuotaMeter, inviteToken: string | undefined) {
    this.#db = db;
    this.#registries = registries;
    this.#quota = quota;
    this.#invite = inviteToken === undefined ? undefined : digest(inviteToken);
  }

  /** Stores an object under the rules of its key; `who` is undefined for a request without a token (already limited to open keys). */
  async put(
    vault: string,
    key: string,
    bytes: Uint8Array,
    o: { ifAbsent: boolean; who: Principal | undefined; invite: string | undefined },
  ): Promise<PutOutcome> {
    if (key === remoteKeys.vault) return this.#create(vault, bytes, o.invite);
    if (key.startsWith(remoteKeys.registryPrefix)) return this.#appendRegistry(vault, key, bytes);
    let ifAbsent = o.ifAbsent;
    if (!o.who) {
      // A device not yet registered answers an offer a registered device made; one answer per offer.
      const offer = key.replace(/join$/, 'offer');
      if (pairingMessage(key) !== 'join' || !(await this.#db.head(vault, offer))) {
        throw new RelayError(403, ErrorCode.RemoteAuth, 'there is no pairing offer to answer here', {
          hint: 'the pairing code expired or was used; start pairing again',
        });
      }
      ifAbsent = true;
    }
    // What an overwrite frees is asked for only when the write would not fit without it.
    await this.#quota.check(vault, bytes.length, () => this.#quota.sizeOf(vault, key));
    const replaced = await this.#db.put(vault, key, bytes, ifAbsent);
    if (replaced === null) return 'exists';
    await this.#quota.add(vault, bytes.length - replaced);
    return 'written';
  }

  /** Deletes an object; the header and registry entries are never deleted through the relay. */
  async delete(vault: string, key: string): Promise<boolean> {
    if (key === remoteKeys.vault || key.startsWith(remoteKeys.registryPrefix)) {
      throw new RelayError(403, ErrorCode.RemoteAuth, 'the vault header and the device registry are append-only on the relay', {
        hint: 'the relay\u2019s operator can remove a vault',
      });
    }
    const old = await this.#quota.sizeOf(vault, key);
    const removed = await this.#db.delete(vault, key);
    if (removed) await this.#quota.add(vault, -old);
    return removed;
  }

  async #create(vault: string, bytes: Uint8Array, invite: string | undefined): Promise<PutOutcome> {
    if (this.#invite && (invite === undefined || !timingSafeEqual(digest(invite), this.#invite))) {
      throw new RelayError(403, ErrorCode.RemoteAuth, 'creating a vault on this relay needs the operator\u2019s invite token', {
        hint: 'ask the relay operator for it and set KITH_RELAY_INVITE_TOKEN (or the relay remote\u2019s inviteToken option)',
      });
    }
    if (await this.#db.head(vault, remoteKeys.vault)) return 'exists';
    try {
      await decodeVaultHeader(bytes);
    } catch {
      throw new RelayError(400, ErrorCode.IntegrityCorrupt, 'this is not a valid vault header');
    }
    // Leftovers under a name without a header would become part of the new vault: refuse instead.
    if ((await this.#db.list(vault, '', '', 1)).items.length > 0) {
      throw new RelayError(409, ErrorCode.RemoteInUse, 'this vault name holds objects but no vault header', {
        hint: 'choose another name, or ask the relay operator to clear it',
      });
    }
    if ((await this.#db.put(vault, remoteKeys.vault, bytes, true)) === null) return 'exists';
    // A registry cached for an earlier vault of this name (removed by the operator) is void now.
    this.#registries.forget(vault);
    return 'written';
  }

  async #appendRegistry(vault: string, key: string, bytes: Uint8Array): Promise<PutOutcome> {
    const seq = registrySeqOf(key);
    if (seq === undefined || seq < 1) throw new RelayError(400, ErrorCode.BadName, 'registry entries live under registry/<12-digit seq>');
    await this.#quota.check(vault, bytes.length);
    try {
      if (!(await this.#registries.append(vault, seq, bytes))) return 'exists';
    } catch (e) {
      if (isIntegrityError(e)) throw new RelayError(422, e.code, `refused: ${e.message}`);
      throw e;
    }
    await this.#quota.add(vault, bytes.length);
    return 'written';
  }
}

/** Invite tokens are compared as digests: equal lengths for timingSafeEqual, whatever was sent. */
function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
