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
import { decodeMembershipEntry } from '@kith/core/spaces';
import { FIRST_MEMBERSHIP_KEY, personOfSigner } from '@kith/relay/protocol';
import type { RelayStorage } from '../relay-storage.js';
import { inviteMessage, pairingMessage, RelayError } from './access.js';
import type { QuotaMeter } from './limits.js';
import { registrySeqOf, type RegistryCache } from './registry-cache.js';
import type { Principal } from './relay-auth.js';
import { movesSpaceState, type SpaceCache } from './space-cache.js';
import { SpaceWrites, type SpaceSigner } from './space-access.js';

/** What a put did: stored the bytes, or left an object that must not change in place. */
export type PutOutcome = 'written' | 'exists';

/** The checked write path of one relay process. */
export class GuardedWrites {
  readonly #db: RelayStorage;
  readonly #registries: RegistryCache;
  readonly #spaces: SpaceCache;
  readonly #spaceWrites: SpaceWrites;
  readonly #quota: QuotaMeter;
  readonly #invite: Buffer | undefined;

  constructor(db: RelayStorage, registries: RegistryCache, spaces: SpaceCache, quota: QuotaMeter, inviteToken: string | undefined) {
    this.#db = db;
    this.#registries = registries;
    this.#spaces = spaces;
    this.#spaceWrites = new SpaceWrites(db);
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
    if (o.who?.person !== undefined) return this.#putInSpace(vault, key, bytes, o.who, o.ifAbsent, o.invite);
    if (key === remoteKeys.vault) return this.#create(vault, bytes, o.invite);
    if (key.startsWith(remoteKeys.registryPrefix)) return this.#appendRegistry(vault, key, bytes);
    let ifAbsent = o.ifAbsent;
    if (!o.who) {
      // A device not yet registered answers an offer a registered device made (a person invited to a space, an admin's offer); one answer per offer.
      const invite = inviteMessage(key) === 'answer';
      const offer = key.replace(invite ? /answer$/ : /join$/, 'offer');
      if ((pairingMessage(key) !== 'join' && !invite) || !(await this.#db.head(vault, offer))) {
        throw new RelayError(403, ErrorCode.RemoteAuth, `there is no ${invite ? 'invite' : 'pairing'} offer to answer here`, {
          hint: invite ? 'the invite code expired or was used; ask for a new invite' : 'the pairing code expired or was used; start pairing again',
        });
      }
      ifAbsent = true;
    }
    return this.#store(vault, key, bytes, ifAbsent);
  }

  /** Stores after the rules said yes, counting the bytes against the vault's quota. */
  async #store(vault: string, key: string, bytes: Uint8Array, ifAbsent: boolean): Promise<PutOutcome> {
    // What an overwrite frees is asked for only when the write would not fit without it.
    await this.#quota.check(vault, bytes.length, () => this.#quota.sizeOf(vault, key));
    const replaced = await this.#db.put(vault, key, bytes, ifAbsent);
    if (replaced === null) return 'exists';
    await this.#quota.add(vault, bytes.length - replaced);
    return 'written';
  }

  /** Deletes an object; the header and registry entries (and a space's chains) are never deleted through the relay. */
  async delete(vault: string, key: string, who?: Principal): Promise<boolean> {
    if (who?.person !== undefined) {
      if (!who.space) throw new RelayError(403, ErrorCode.RemoteAuth, 'the space does not exist yet');
      await this.#spaceWrites.checkDelete(vault, who.space, signerOf(who), key);
    } else if (key === remoteKeys.vault || key.startsWith(remoteKeys.registryPrefix)) {
      throw new RelayError(403, ErrorCode.RemoteAuth, 'the vault header and the device registry are append-only on the relay', {
        hint: 'the relay\u2019s operator can remove a vault',
      });
    }
    const old = await this.#quota.sizeOf(vault, key);
    const removed = await this.#db.delete(vault, key);
    if (removed) await this.#quota.add(vault, -old);
    return removed;
  }

  /** A write to a space vault by one of its signers (or its founder's person, before entry 1). */
  async #putInSpace(vault: string, key: string, bytes: Uint8Array, who: Principal, ifAbsent: boolean, invite: string | undefined): Promise<PutOutcome> {
    if (!who.space) {
      if (key !== FIRST_MEMBERSHIP_KEY)
        throw new RelayError(403, ErrorCode.RemoteAuth, 'the space does not exist yet: its first object is its founding membership entry');
      return this.#found(vault, bytes, who.person!, invite);
    }
    const decided = await this.#spaceWrites.check(vault, who.space, signerOf(who), key, bytes, ifAbsent);
    if (decided === 'exists') return 'exists';
    const outcome = await this.#store(vault, key, bytes, decided.ifAbsent);
    // This process's next check reads the new entry even while the cache is trusted (scale-out); the bus tells the others.
    if (outcome === 'written' && movesSpaceState(key)) this.#spaces.distrust(vault);
    return outcome;
  }

  /** Founds a space: entry 1, a create by the signed-in person whose spaceId is the name, on a name that holds nothing. */
  async #found(vault: string, bytes: Uint8Array, person: string, invite: string | undefined): Promise<PutOutcome> {
    this.#gate(invite, 'a space');
    try {
      const { entry } = await decodeMembershipEntry(bytes, { spaceId: vault, seq: 1, prevHash: new Uint8Array(32) }, () => undefined);
      if (entry.signer !== person) throw new RelayError(403, ErrorCode.RemoteAuth, 'a space is founded by the person who signs its first entry');
    } catch (e) {
      if (isIntegrityError(e)) throw new RelayError(422, e.code, `refused: ${e.message}`);
      throw e;
    }
    await this.#assertEmpty(vault);
    await this.#quota.check(vault, bytes.length);
    if ((await this.#db.put(vault, FIRST_MEMBERSHIP_KEY, bytes, true)) === null) return 'exists';
    await this.#quota.add(vault, bytes.length);
    this.#spaces.forget(vault);
    return 'written';
  }

  #gate(invite: string | undefined, what: string): void {
    if (this.#invite && (invite === undefined || !timingSafeEqual(digest(invite), this.#invite))) {
      throw new RelayError(403, ErrorCode.RemoteAuth, `creating ${what} on this relay needs the operator\u2019s invite token`, {
        hint: 'ask the relay operator for it and set KITH_RELAY_INVITE_TOKEN (or the relay remote\u2019s inviteToken option)',
      });
    }
  }

  /** Leftovers under a name without a header would become part of the new vault or space: refuse instead. */
  async #assertEmpty(vault: string): Promise<void> {
    if ((await this.#db.list(vault, '', '', 1)).items.length > 0) {
      throw new RelayError(409, ErrorCode.RemoteInUse, 'this vault name holds objects but no vault header', {
        hint: 'choose another name, or ask the relay operator to clear it',
      });
    }
  }

  async #create(vault: string, bytes: Uint8Array, invite: string | undefined): Promise<PutOutcome> {
    this.#gate(invite, 'a vault');
    if (await this.#db.head(vault, remoteKeys.vault)) return 'exists';
    try {
      await decodeVaultHeader(bytes);
    } catch {
      throw new RelayError(400, ErrorCode.IntegrityCorrupt, 'this is not a valid vault header');
    }
    await this.#assertEmpty(vault);
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

const signerOf = (who: Principal): SpaceSigner => ({ person: who.person!, device: personOfSigner(who.signer) === undefined ? who.signer : undefined });

/** Invite tokens are compared as digests: equal lengths for timingSafeEqual, whatever was sent. */
function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
