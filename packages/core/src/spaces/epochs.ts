/**
 * @module spaces/epochs
 * A space's key epochs: epoch 0 when the space is made, a new one whenever
 * a device that held the current key must lose access (a member removed
 * or leaving, a member revoking one of their devices). The key is sealed
 * (format/sealed-key.ts, the spaceId in the vaultId slot) to every device
 * of every member, found through the version of each member's device
 * certificate the entry names; the entry is written with put-if-absent
 * after the keys, so two admins starting an epoch at once end with one
 * chain, and the loser starts the next one if it is still needed. See
 * docs/FORMAT.md "Space epoch".
 *
 * Who starts an epoch: an admin at the membership seq it names, or any
 * member whose own certificate changed since the previous epoch (a member
 * revoking their device needs no admin).
 */
import type { RandomBytes } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { bytesEqual } from '../crypto/index.js';
import { corrupt } from '../format/framing.js';
import { remoteKeys } from '../format/remote-keys.js';
import { epochKeyCheck, epochKeyId, openEpochKey, sealEpochKey, verifySealedKey } from '../format/sealed-key.js';
import type { Remote } from '../ports/remote.js';
import type { CertifiedDevice, DeviceCertificates } from './device-cert.js';
import { decodeSpaceEpoch, spaceEpochKey, type EpochMember, type SpaceEpochEntry } from './epoch-entry.js';
import type { Membership } from './membership.js';
import type { PersonKeys } from './person.js';

/** A reader's verified certificates of a person (undefined: none read yet, as if version 0). */
export type CertsOf = (personId: string) => DeviceCertificates | undefined;

/** A verified position of the epoch chain, to refuse a shorter or forked one later. */
export interface EpochPin {
  /** The number of epochs verified (0: none). */
  readonly count: number;
  readonly hash: Uint8Array;
}

const ZERO_HASH = new Uint8Array(32);

/** Where the key of `entry` is sealed to `deviceId`. */
export const spaceSealedKeyKey = (entry: SpaceEpochEntry, deviceId: string): string => remoteKeys.sealedKey(entry.epoch, deviceId, epochKeyId(entry.keyCheck));

/** The devices the key of `entry` is sealed to, from one listing (not one request per device). */
export async function sealedRecipients(remote: Remote, entry: SpaceEpochEntry): Promise<Set<string>> {
  const prefix = spaceSealedKeyKey(entry, '');
  return new Set((await remote.list(prefix)).map((o) => o.key.slice(prefix.length)));
}

/** The devices an epoch listing reaches: every device of each member's named certificate. */
export function reachedBy(members: readonly EpochMember[], certs: CertsOf): Map<string, CertifiedDevice> {
  const out = new Map<string, CertifiedDevice>();
  for (const m of members) if (m.certVersion > 0) for (const d of certs(m.personId)?.at(m.certVersion)?.devices ?? []) out.set(d.deviceId, d);
  return out;
}

/**
 * Whether `signer` may start the epoch after `prev` listing `members` at
 * membership seq `seq`: an admin there, or a member whose own certificate
 * changed since the previous epoch listed it (since their first version,
 * if it did not list them): a member revoking a device needs no admin.
 */
export function mayStart(m: Membership, prev: SpaceEpochEntry | undefined, members: readonly EpochMember[], signer: string, seq: number): boolean {
  if (m.roleAt(signer, seq) === 'admin') return true;
  const self = members.find((x) => x.personId === signer);
  if (!prev || !self) return false;
  return self.certVersion > Math.max(1, prev.members.find((x) => x.personId === signer)?.certVersion ?? 1);
}

/**
 * The devices every reader alike knows an epoch after `prev` must cut if
 * it does not reach them: those `prev` reached, and those of each listed
 * member's certificate versions since `prev` listed them (since their
 * first, if it did not). A person removed after being added during `prev`
 * is cut by the starter as far as it knows (see {@link SpaceEpochs.exposed}):
 * their later certificates are theirs to write, so no reader rule may
 * depend on them.
 */
function mustCut(
  prev: SpaceEpochEntry | undefined,
  members: readonly EpochMember[],
  certs: CertsOf,
  reached: ReadonlyMap<string, CertifiedDevice>,
): Set<string> {
  const out = new Set(reached.keys());
  if (!prev) return out;
  for (const x of members) {
    const c = certs(x.personId);
    for (let v = Math.max(1, prev.members.find((p) => p.personId === x.personId)?.certVersion ?? 1); c && v < x.certVersion; v++) {
      for (const d of c.at(v)!.devices) out.add(d.deviceId);
    }
  }
  return out;
}

/** The verified epoch chain of one space. */
export class SpaceEpochs {
  readonly #entries: SpaceEpochEntry[] = [];
  readonly #hashes: Uint8Array[] = [];
  readonly #reached: Map<string, CertifiedDevice>[] = [];

  constructor(readonly spaceId: string) {}

  /** The number of verified epochs (the current one is `count - 1`). */
  get count(): number {
    return this.#entries.length;
  }
  get current(): SpaceEpochEntry | undefined {
    return this.#entries[this.#entries.length - 1];
  }
  get pin(): EpochPin {
    return { count: this.count, hash: this.#hashes[this.#hashes.length - 1] ?? ZERO_HASH };
  }
  entry(epoch: number): SpaceEpochEntry | undefined {
    return this.#entries[epoch];
  }
  /** The hash of epoch entry `epoch`, if verified. */
  hashAt(epoch: number): Uint8Array | undefined {
    return this.#hashes[epoch];
  }
  /** The devices epoch `epoch` was sealed to when it started. */
  reached(epoch: number): ReadonlyMap<string, CertifiedDevice> {
    return this.#reached[epoch] ?? new Map();
  }

  /**
   * Verifies the next entry against the verified membership chain `m` and
   * certificates `certs` (catch both up first): its signer, the
   * membership entry it follows, that it lists exactly the members at that
   * point through certificates the reader verified, none older than the
   * previous epoch's, and that it cuts every device the previous epoch
   * reached and it does not.
   */
  async accept(bytes: Uint8Array, m: Membership, certs: CertsOf): Promise<SpaceEpochEntry> {
    const epoch = this.count;
    const what = `space epoch ${epoch}`;
    const prev = this.current;
    const { entry, hash } = await decodeSpaceEpoch(bytes, { spaceId: this.spaceId, epoch, prevHash: this.pin.hash }, (p, seq) => {
      // Past the verified chain: the reader is behind, or the remote withholds entries; both show as a chain break here.
      if (seq < 1 || seq > m.seq) throw new KithError(ErrorCode.IntegrityChain, `${what} follows membership entry ${seq}, which the chain does not hold`);
      return m.roleAt(p, seq) !== null ? m.person(p)?.signPub : undefined;
    });
    const seqHash = m.hashAt(entry.membershipSeq)!;
    if (!bytesEqual(seqHash, entry.membershipHash))
      throw new KithError(ErrorCode.IntegrityChain, `${what} follows another membership entry ${entry.membershipSeq}: a fork`);
    if (prev && entry.membershipSeq < prev.membershipSeq) throw corrupt(what, 'it goes back in the membership chain');
    const listed = entry.members.map((x) => x.personId);
    if (listed.join() !== m.membersAt(entry.membershipSeq).join()) throw corrupt(what, `it does not list the members at entry ${entry.membershipSeq}`);
    for (const x of entry.members) {
      const have = certs(x.personId);
      const known = have?.hashAt(x.certVersion) ?? (x.certVersion === 0 ? ZERO_HASH : undefined);
      if (!known) throw new KithError(ErrorCode.IntegrityChain, `${what} names device certificate ${x.certVersion} of ${x.personId}, which was not seen`);
      if (!bytesEqual(known, x.certHash))
        throw new KithError(ErrorCode.IntegrityChain, `${what} names another device certificate ${x.certVersion} of ${x.personId}`);
      const before = prev?.members.find((p) => p.personId === x.personId);
      if (before && x.certVersion < before.certVersion) {
        throw new KithError(ErrorCode.IntegrityRollback, `${what} seals to certificate ${x.certVersion} of ${x.personId}, older than the previous epoch’s`);
      }
    }
    const self = entry.members.find((x) => x.personId === entry.signer)!;
    if (!mayStart(m, prev, entry.members, entry.signer, entry.membershipSeq)) {
      throw new KithError(ErrorCode.IntegrityUnknownSigner, `${what} was started by ${entry.signer}, who is neither an admin nor changed their own devices`, {
        hint: 'someone without the right to tried to start a key epoch; remove the object',
      });
    }
    if (!certs(entry.signer)?.deviceAt(entry.sealer, self.certVersion)) {
      throw new KithError(ErrorCode.IntegrityUnknownSigner, `${what} names sealer ${entry.sealer}, not a device of its signer`);
    }
    const reached = reachedBy(entry.members, certs);
    const cut = new Set(entry.cuts.map((c) => c.deviceId));
    if (!prev && cut.size > 0) throw corrupt(what, 'the first epoch cuts nobody');
    for (const d of cut) if (reached.has(d)) throw corrupt(what, `it both reaches and cuts device ${d}`);
    for (const d of mustCut(prev, entry.members, certs, this.reached(epoch - 1)))
      if (!reached.has(d) && !cut.has(d)) throw corrupt(what, `it drops device ${d} without cutting it`);
    this.#entries.push(entry);
    this.#hashes.push(hash);
    this.#reached.push(reached);
    return entry;
  }

  /** Reads and verifies the epochs after the newest known one. */
  async refresh(remote: Remote, m: Membership, certs: CertsOf): Promise<number> {
    let n = 0;
    for (let bytes; (bytes = await remote.get(spaceEpochKey(this.count))); n++) await this.accept(bytes, m, certs);
    return n;
  }

  /** Refuses this chain if it ends before, or differs at, a position verified before. */
  checkPin(pin: EpochPin): void {
    if (pin.count > this.count) {
      throw new KithError(
        ErrorCode.IntegrityRollback,
        `the space’s epochs end at ${this.count}, before epoch ${pin.count - 1} seen earlier: they were rolled back`,
        {
          hint: 'the remote is withholding key epochs; use another copy of the remote',
        },
      );
    }
    if (pin.count > 0 && !bytesEqual(this.#hashes[pin.count - 1]!, pin.hash)) {
      throw new KithError(ErrorCode.IntegrityChain, `space epoch ${pin.count - 1} differs from the one seen earlier: the epochs were forked`);
    }
  }

  /**
   * The listing an epoch started now would carry: the members at the
   * chain's end, each through their newest verified certificate.
   */
  plan(m: Membership, certs: CertsOf): EpochMember[] {
    return m.membersAt(m.seq).map((personId) => {
      const c = certs(personId);
      const certVersion = c?.version ?? 0;
      return { personId, certVersion, certHash: c?.hashAt(certVersion) ?? ZERO_HASH };
    });
  }

  /**
   * True when a new epoch is due: there is none yet, or a device the
   * current epoch reached is no device of a member any more (removed,
   * left, or dropped from its person's newest certificate).
   */
  needed(m: Membership, certs: CertsOf): boolean {
    if (!this.current || m.closed) return !this.current && !m.closed;
    const now = reachedBy(this.plan(m, certs), certs);
    return [...this.exposed(m, certs)].some((d) => !now.has(d));
  }

  /**
   * The devices that may hold the key of `epoch` (default the current one):
   * those it reached when it started, and every device since certified by
   * someone who was a member at some point since it began (the key may
   * have been sealed to them later: see {@link shareEpochKey}; members
   * read the whole history, so an earlier key reaches later members too).
   */
  exposed(m: Membership, certs: CertsOf, epoch?: number): Set<string> {
    const entry = epoch === undefined ? this.current : this.entry(epoch);
    if (!entry) return new Set();
    const out = new Set(this.reached(entry.epoch).keys());
    for (const p of m.everyone()) {
      let member = false;
      for (let seq = entry.membershipSeq; seq <= m.seq && !member; seq++) member = m.roleAt(p, seq) !== null;
      if (!member) continue;
      const c = certs(p);
      const from = Math.max(1, entry.members.find((x) => x.personId === p)?.certVersion ?? 1);
      for (let v = from; c && v <= c.version; v++) for (const d of c.at(v)!.devices) out.add(d.deviceId);
    }
    return out;
  }
}

/** The device that starts an epoch or seals its key, and what it runs on. */
export interface EpochActor {
  readonly person: PersonKeys;
  readonly deviceId: string;
  readonly signSeed: Uint8Array;
}

/**
 * The signing key of a device that may seal epoch `entry`'s key: its
 * sealer, or (sealing it again to a device that came later: a member's new
 * device, a member added since) a device in the newest verified
 * certificate of a current member.
 */
export function sealerPub(entry: SpaceEpochEntry, m: Membership, certs: CertsOf): (deviceId: string) => Uint8Array | undefined {
  return (deviceId) => {
    const starter = entry.members.find((x) => x.personId === entry.signer)!;
    if (deviceId === entry.sealer) return certs(entry.signer)?.deviceAt(deviceId, starter.certVersion)?.signPub;
    for (const p of m.membersAt(m.seq)) {
      const d = certs(p)?.deviceAt(deviceId, certs(p)!.version);
      if (d) return d.signPub;
    }
    return undefined;
  };
}

/**
 * Opens the key of `epoch` sealed to this device and checks it against the
 * entry's key check (another key: KITH_INTEGRITY_CORRUPT). Null when
 * nothing is sealed to the device there.
 */
export async function openSpaceEpochKey(
  remote: Remote,
  a: {
    readonly m: Membership;
    readonly epochs: SpaceEpochs;
    readonly certs: CertsOf;
    readonly epoch: number;
    readonly deviceId: string;
    readonly boxSecret: Uint8Array;
  },
): Promise<Uint8Array | null> {
  const entry = a.epochs.entry(a.epoch);
  if (!entry) throw new KithError(ErrorCode.BadInput, `epoch ${a.epoch} of the space is not verified yet`);
  const bytes = await remote.get(spaceSealedKeyKey(entry, a.deviceId));
  if (!bytes) return null;
  const { epochKey } = await openEpochKey(bytes, {
    vaultId: a.m.spaceId,
    epoch: a.epoch,
    recipientId: a.deviceId,
    recipientBoxSecret: a.boxSecret,
    signerPub: sealerPub(entry, a.m, a.certs),
  });
  if (!bytesEqual(epochKeyCheck(a.m.spaceId, a.epoch, epochKey), entry.keyCheck)) {
    throw corrupt(`sealed key ${a.epoch}/${a.deviceId}`, 'it holds another key than the one that started the epoch');
  }
  return epochKey;
}

/**
 * Seals the current epoch's key (which the caller opened) to every device
 * of a current member that has none yet: a member added since the epoch
 * started, a device a member paired. Returns the devices sealed to.
 */
export async function shareEpochKey(
  remote: Remote,
  a: { readonly m: Membership; readonly epochs: SpaceEpochs; readonly certs: CertsOf; readonly epochKey: Uint8Array; readonly actor: EpochActor },
  deps: { random: RandomBytes },
): Promise<string[]> {
  const entry = a.epochs.current;
  if (!entry) throw new KithError(ErrorCode.BadInput, 'the space has no key epoch yet');
  if (!bytesEqual(epochKeyCheck(a.m.spaceId, entry.epoch, a.epochKey), entry.keyCheck))
    throw new KithError(ErrorCode.BadInput, 'that is not the current epoch’s key');
  const done: string[] = [];
  for (const d of reachedBy(a.epochs.plan(a.m, a.certs), a.certs).values()) {
    const key = spaceSealedKeyKey(entry, d.deviceId);
    if (await remote.head(key)) continue;
    const bytes = await sealEpochKey({
      vaultId: a.m.spaceId,
      epoch: entry.epoch,
      recipientId: d.deviceId,
      recipientBoxPub: d.boxPub,
      epochKey: a.epochKey,
      signerId: a.actor.deviceId,
      signerSeed: a.actor.signSeed,
      random: deps.random,
    });
    await remote.put(key, bytes, { ifAbsent: true });
    done.push(d.deviceId);
  }
  return done;
}

/**
 * Checks, as far as anyone but the recipients can, that epoch `epoch` is
 * sealed to exactly the right devices: one valid sealed key for every
 * device it reached when it started (a missing one: KITH_INTEGRITY_WITHHELD),
 * and none to a device outside the devices of current members
 * (KITH_INTEGRITY_CORRUPT). For the current epoch only, since later keys
 * of older epochs are not kept up to date with members' devices.
 */
export async function checkEpochSeals(
  remote: Remote,
  a: { readonly m: Membership; readonly epochs: SpaceEpochs; readonly certs: CertsOf; readonly epoch: number },
): Promise<void> {
  const entry = a.epochs.entry(a.epoch);
  if (!entry) throw new KithError(ErrorCode.BadInput, `epoch ${a.epoch} of the space is not verified yet`);
  const present = await sealedRecipients(remote, entry);
  for (const d of a.epochs.reached(a.epoch).keys()) {
    if (!present.has(d)) throw new KithError(ErrorCode.IntegrityWithheld, `epoch ${a.epoch} of the space is not sealed to device ${d}, which it reached`);
  }
  const allowed = new Set([...a.epochs.reached(a.epoch).keys(), ...reachedBy(a.epochs.plan(a.m, a.certs), a.certs).keys()]);
  for (const d of present) {
    if (!allowed.has(d)) throw corrupt(`sealed key ${a.epoch}/${d}`, 'it is sealed to a device of no member');
    await verifySealedKey((await remote.get(spaceSealedKeyKey(entry, d)))!, {
      vaultId: a.m.spaceId,
      epoch: a.epoch,
      recipientId: d,
      signerPub: sealerPub(entry, a.m, a.certs),
    });
  }
}
