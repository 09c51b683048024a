/**
 * @module server/auth/space-access
 * Who may sign in to a space vault and what each may write, decided on
 * the space's verified state (space-cache.ts) with the core's pure code:
 * - a device signs in when it is in the newest certificate of a current
 *   member; a person (`person:<personId>`) when they are a current member;
 * - a removed person's devices and person are refused (KITH_REMOVED), a
 *   device its person dropped too (KITH_REVOKED);
 * - `members/`, `people/` and `epochs/` take only the verified next entry
 *   of their chain, by put-if-absent, signed by the person who writes it;
 *   a segment only from its own device, whose person is a writer or admin
 *   now (the relay sees the order of writes, so a demoted writer's
 *   segments stop at the demotion) and whose claims pass
 *   `checkSpaceWriter` (the person cut of a demotion or removal, too); a
 *   head only from its own device.
 * See docs/RELAY.md "Spaces".
 */
import { ErrorCode, isIntegrityError, KithError } from '@kith/core/adapter';
import {
  checkSpaceWriter,
  decodeMembershipEntry,
  DeviceCertificates,
  otherCertifier,
  peekSpaceSegmentClaim,
  SpaceEpochs,
  verifySealedKey,
  type MembershipIntent,
  type SpaceState,
} from '@kith/core/spaces';
import { personOfSigner } from '@kith/relay/protocol';
import type { RelayStorage } from '../relay-storage.js';
import { inviteMessage, RelayError } from './access.js';
import { storageReader } from './space-cache.js';

const MEMBERS_RE = /^members\/(\d{12})$/;
const CERT_RE = /^people\/([0-9a-f]{32})\/devices\/(\d{12})$/;
const EPOCH_RE = /^epochs\/(\d{10})$/;
const SEGMENT_RE = /^segments\/([0-9a-f]{16})\/(\d{12})$/;
const HEAD_RE = /^heads\/([0-9a-f]{16})$/;
/** A space's sealed epoch key (FORMAT.md "Space epoch"): `keys/<epoch>/<keyId>/<recipient>`. */
const SEALED_KEY_RE = /^keys\/(\d{10})\/([0-9a-f]{16})\/([A-Za-z0-9._-]{1,64})$/;

/** The signer deviceId a sealed key names (after the preamble, the u32 epoch and the text8 recipient), or undefined if it is too short to say. */
function sealedKeySigner(bytes: Uint8Array): string | undefined {
  const at = 6 + 4 + 1 + (bytes[10] ?? 0);
  if (bytes.length < at + 8) return undefined;
  return [...bytes.subarray(at, at + 8)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** An invite's plain expiry beside its messages (FORMAT.md "Invite"): an admin's, like the offer and the done. */
const INVITE_EXPIRES_RE = /^invites\/[0-9a-f]{12}\/expires$/;

/** An invite's objects other than the invitee's answer: only an admin offers, closes, dates and deletes invites. */
function isAdminsInviteObject(key: string): boolean {
  const message = inviteMessage(key);
  return message === 'offer' || message === 'done' || INVITE_EXPIRES_RE.test(key);
}

/** Keys no one deletes or replaces through the relay: the chains everyone's access rests on. */
function isSpaceChain(key: string): boolean {
  return key.startsWith('members/') || key.startsWith('people/') || key.startsWith('epochs/');
}

/** Who signed in to a space: a person, and the device signing for them (undefined when the person signs). */
export interface SpaceSigner {
  readonly person: string;
  readonly device: string | undefined;
}

const forbidden = (message: string, hint?: string): RelayError => new RelayError(403, ErrorCode.RemoteAuth, message, hint === undefined ? {} : { hint });

/** KITH_REMOVED for someone who was a member, else KITH_REMOTE_AUTH. */
function notMember(state: SpaceState, person: string): RelayError {
  const gone = state.m.removal(person);
  if (!gone) return forbidden('this key is not a member’s of the space', 'ask an admin of the space for an invite');
  const left = gone.by === person;
  const entry = `membership entry ${gone.seq}, ${new Date(gone.at).toISOString()}`;
  return new RelayError(
    403,
    ErrorCode.Removed,
    left ? `this person left the space (${entry})` : `this person was removed from the space by ${gone.by} (${entry})`,
    {
      hint: 'ask an admin of the space for a new invite',
    },
  );
}

const revoked = (): RelayError =>
  new RelayError(403, ErrorCode.Revoked, 'this device is not among its person’s devices in the space', {
    hint: 'add it again from another of the person’s devices',
  });

/** Throws unless `signer` is admitted to the space now (see the module). */
export function assertSpaceAdmits(state: SpaceState, s: SpaceSigner): void {
  if (!state.m.member(s.person)) throw notMember(state, s.person);
  if (s.device === undefined) return;
  const certs = state.certs(s.person)!;
  if (!certs.deviceAt(s.device, certs.version)) throw revoked();
}

/** True when {@link assertSpaceAdmits} would admit `s`. */
export function spaceAdmits(state: SpaceState, s: SpaceSigner): boolean {
  const member = state.m.member(s.person);
  if (!member) return false;
  if (s.device === undefined) return true;
  const certs = state.certs(s.person)!;
  return certs.deviceAt(s.device, certs.version) !== undefined;
}

/**
 * The keys a challenge signed by `signer` may verify under, with the person
 * each stands for: a current member's identity key, or the device's key in
 * each current member's newest certificate listing it (the relay refuses a
 * certificate naming another person's deviceId, but a space stored before
 * that rule may hold two).
 */
export function spaceSignerKeys(state: SpaceState, signer: string): { person: string; signPub: Uint8Array }[] {
  const person = personOfSigner(signer);
  if (person !== undefined) {
    const m = state.m.member(person);
    if (!m) throw notMember(state, person);
    return [{ person, signPub: m.signPub }];
  }
  const out: { person: string; signPub: Uint8Array }[] = [];
  for (const m of state.m.members()) {
    const certs = state.certs(m.personId)!;
    const d = certs.deviceAt(signer, certs.version);
    if (d) out.push({ person: m.personId, signPub: d.signPub });
  }
  if (out.length > 0) return out;
  // Why not: the device of someone gone, or a device its person dropped.
  for (const p of state.m.everyone()) {
    const certs = state.certs(p)!;
    if (!state.m.member(p) && certs.deviceAt(signer, certs.version)) throw notMember(state, p);
    for (let v = 1; v < certs.version; v++) if (certs.deviceAt(signer, v)) throw revoked();
  }
  throw forbidden('this device is not in the newest certificate of any member of the space', 'a member’s device publishes its certificate first');
}

/** How a space write goes ahead: stored with put-if-absent or not, or refused as taken (`exists`). */
export type SpaceWrite = { readonly ifAbsent: boolean } | 'exists';

const taken: SpaceWrite = 'exists';

/** Refusals of objects that do not verify: 422 with their integrity code, like registry entries. */
async function verified<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isIntegrityError(e)) throw new RelayError(422, e.code, `refused: ${e.message}`);
    if (KithError.is(e) && e.code === ErrorCode.UnsupportedFormat) throw new RelayError(422, ErrorCode.IntegrityCorrupt, `refused: ${e.message}`);
    throw e;
  }
}

const gap = (what: string, seq: number, have: number): RelayError => new RelayError(400, ErrorCode.BadInput, `${what} ${seq} would leave a gap after ${have}`);

/** The write rules of a space vault (see the module). */
export class SpaceWrites {
  readonly #db: RelayStorage;

  constructor(db: RelayStorage) {
    this.#db = db;
  }

  /** Decides a put by `who` (signed in and admitted now) to a space; throws a RelayError when refused. */
  async check(vault: string, state: SpaceState, who: SpaceSigner, key: string, bytes: Uint8Array, ifAbsent: boolean): Promise<SpaceWrite> {
    assertSpaceKey(key);
    let m: RegExpExecArray | null;
    if ((m = MEMBERS_RE.exec(key))) return this.#member(state, who, Number(m[1]), bytes);
    if ((m = CERT_RE.exec(key))) return this.#certificate(vault, state, who, m[1]!, Number(m[2]), bytes);
    if (who.device === undefined)
      throw forbidden('a person signs in to a space only to publish their certificate or change the members', 'sign in with a device key');
    if ((m = EPOCH_RE.exec(key))) return this.#epoch(vault, state, who, Number(m[1]), bytes);
    if ((m = SEGMENT_RE.exec(key))) return this.#segment(state, who, m[1]!, Number(m[2]), bytes);
    if ((m = HEAD_RE.exec(key))) {
      if (m[1] !== who.device) throw forbidden('a device writes only its own head');
      return { ifAbsent };
    }
    if (isSpaceChain(key)) throw new RelayError(400, ErrorCode.BadName, 'not a key of a space’s chains');
    // Sealed keys are written once, each by the device that sealed and signed it.
    if (key.startsWith('keys/')) return this.#sealedKey(state, who, key, bytes);
    // An answer is one per offer, whoever sends it; the rest of an invite is an admin's.
    if (inviteMessage(key) === 'answer') return { ifAbsent: true };
    if (isAdminsInviteObject(key)) {
      assertAdmin(state, who.person, 'invites');
      return { ifAbsent };
    }
    assertWriter(state, who.person);
    return { ifAbsent };
  }

  /** Decides a delete by `who`; throws a RelayError when refused. */
  async checkDelete(vault: string, state: SpaceState, who: SpaceSigner, key: string): Promise<void> {
    assertSpaceKey(key);
    if (isSpaceChain(key)) {
      throw forbidden('a space’s membership chain, certificates and epochs are append-only on the relay', 'the relay’s operator can remove a space');
    }
    if (who.device === undefined) throw forbidden('a person signs in to a space only to publish their certificate or change the members');
    const own = SEGMENT_RE.exec(key)?.[1] ?? HEAD_RE.exec(key)?.[1];
    if (own !== undefined) {
      if (own !== who.device) throw forbidden('a device deletes only its own segments and head');
      return;
    }
    if (key.startsWith('keys/')) {
      // Its signer's device (a loser of an epoch race takes back its own), or an admin's (tidying what another left).
      if (state.m.member(who.person)?.role === 'admin') return;
      const stored = await this.#db.get(vault, key);
      if (stored === null || sealedKeySigner(stored) === who.device) return;
      throw forbidden('a device deletes only the sealed keys it signed', 'an admin of the space may delete any');
    }
    if (inviteMessage(key) !== undefined || INVITE_EXPIRES_RE.test(key)) return assertAdmin(state, who.person, 'deletes invites');
    assertWriter(state, who.person);
  }

  /** `keys/<epoch>/<keyId>/<recipient>`: addressed to its place and signed by the very device that puts it (put-if-absent). */
  async #sealedKey(state: SpaceState, who: SpaceSigner, key: string, bytes: Uint8Array): Promise<SpaceWrite> {
    const m = SEALED_KEY_RE.exec(key);
    if (!m) throw new RelayError(400, ErrorCode.BadName, 'a space’s sealed key lives at keys/<epoch>/<keyId>/<recipient>');
    if (sealedKeySigner(bytes) !== who.device) throw forbidden('a device puts only the sealed keys it signed');
    const certs = state.certs(who.person)!;
    const signPub = certs.deviceAt(who.device!, certs.version)!.signPub;
    await verified(() =>
      verifySealedKey(bytes, { vaultId: state.spaceId, epoch: Number(m[1]), recipientId: m[3]!, signerPub: (id) => (id === who.device ? signPub : undefined) }),
    );
    return { ifAbsent: true };
  }

  /** `members/<seq>`: the verified next entry, signed by the person who writes it (an admin, or a member leaving). */
  async #member(state: SpaceState, who: SpaceSigner, seq: number, bytes: Uint8Array): Promise<SpaceWrite> {
    const chain = state.m;
    if (seq <= chain.seq) return taken;
    if (seq !== chain.seq + 1) throw gap('membership entry', seq, chain.seq);
    const { entry } = await verified(() =>
      decodeMembershipEntry(bytes, { spaceId: state.spaceId, seq, prevHash: chain.hash }, (p) => chain.member(p)?.signPub),
    );
    if (entry.signer !== who.person) throw forbidden('a membership entry is written by the person who signs it');
    const c = entry.change;
    const intent: MembershipIntent | null =
      c.kind === 'create' ? null : c.kind === 'add' ? { kind: 'add', person: { personId: c.personId, signPub: c.signPub, boxPub: c.boxPub }, role: c.role } : c;
    if (!intent || chain.plan(entry.signer, intent) === null) {
      throw new RelayError(422, ErrorCode.IntegrityUnknownSigner, `refused: membership entry ${seq} is not its signer’s to write`, {
        hint: 'only admins change the members; any member may leave',
      });
    }
    // A person cut on an entry that ends no one's right to write: members would refuse it, and the chain would stop there.
    if (entry.cut && chain.writeEndedBy(entry.signer, c) === null) {
      throw new RelayError(422, ErrorCode.IntegrityCorrupt, `refused: membership entry ${seq} cuts someone whose right to write it does not end`);
    }
    return { ifAbsent: true };
  }

  /** `people/<personId>/devices/<version>`: the verified next certificate of the signed-in person, a current member. */
  async #certificate(vault: string, state: SpaceState, who: SpaceSigner, person: string, version: number, bytes: Uint8Array): Promise<SpaceWrite> {
    if (person !== who.person) throw forbidden('a person publishes only their own device certificates');
    const member = state.m.member(person)!;
    // A trial chain from storage: the cached one must not take a version the put may lose.
    const trial = new DeviceCertificates(member);
    await verified(() => trial.refresh(storageReader(this.#db, vault)));
    if (version <= trial.version) return taken;
    if (version !== trial.version + 1) throw gap('device certificate', version, trial.version);
    const cert = await verified(() => trial.accept(bytes));
    // A deviceId is one person's: listed by a second, it would let that person sign in as the device, replace its head and delete its segments.
    // The cached state says who listed it so far (refused: nothing written); the storage's claims decide, atomically across processes, between puts racing now.
    const inUse = (deviceId: string, other: string): RelayError =>
      new RelayError(409, ErrorCode.RemoteInUse, `device ${deviceId} is certified by another person of the space (${other})`, {
        hint: 'a person certifies only their own devices',
      });
    for (const d of cert.devices) {
      const other = otherCertifier(state.m.everyone(), state.certs, person, d.deviceId);
      if (other !== undefined) throw inUse(d.deviceId, other);
    }
    const holders = await Promise.all(cert.devices.map((d) => this.#db.claim(vault, `device/${d.deviceId}`, person)));
    holders.forEach((holder, i) => {
      if (holder !== person) throw inUse(cert.devices[i]!.deviceId, holder);
    });
    return { ifAbsent: true };
  }

  /** `epochs/<epoch>`: the verified next epoch, started by the signed-in person (an admin, or a member who changed their devices). */
  async #epoch(vault: string, state: SpaceState, who: SpaceSigner, epoch: number, bytes: Uint8Array): Promise<SpaceWrite> {
    const trial = new SpaceEpochs(state.spaceId);
    await verified(() => trial.refresh(storageReader(this.#db, vault), state.m, state.certs));
    if (epoch < trial.count) return taken;
    if (epoch !== trial.count) throw gap('space epoch', epoch, trial.count - 1);
    const entry = await verified(() => trial.accept(bytes, state.m, state.certs));
    if (entry.signer !== who.person) throw forbidden('an epoch is written by a device of the person who starts it');
    return { ifAbsent: true };
  }

  /** `segments/<deviceId>/<seq>`: from that device only, its person a writer or admin now, its header's claims holding. */
  #segment(state: SpaceState, who: SpaceSigner, device: string, seq: number, bytes: Uint8Array): SpaceWrite {
    if (device !== who.device) throw forbidden('a device writes only its own segments');
    assertWriter(state, who.person);
    const claim = (() => {
      try {
        return peekSpaceSegmentClaim(bytes);
      } catch (e) {
        if (KithError.is(e)) throw new RelayError(422, ErrorCode.IntegrityCorrupt, `refused: ${e.message}`);
        throw e;
      }
    })();
    if (claim.deviceId !== device || claim.seq !== seq)
      throw new RelayError(422, ErrorCode.IntegrityChain, `refused: the segment is ${claim.deviceId}/${claim.seq}`);
    if (claim.personId !== who.person) throw forbidden('a device writes segments only for its own person');
    const certs = state.certs(who.person)!;
    const signPub = certs.deviceAt(device, claim.certVersion)?.signPub ?? new Uint8Array(32);
    try {
      checkSpaceWriter(state.m, certs, state.epochs, { ...claim, signPub, segmentSeq: claim.seq });
    } catch (e) {
      if (isIntegrityError(e)) throw new RelayError(422, e.code, `refused: ${e.message}`);
      throw e;
    }
    return { ifAbsent: true };
  }
}

/** A space vault holds no vault header, registry or pairing mailbox: refused, so a name stays a space's. */
function assertSpaceKey(key: string): void {
  if (key === 'vault' || key.startsWith('registry/') || key.startsWith('pairing/'))
    throw forbidden('a space vault has no vault header, registry or pairing', 'a space’s devices pair through their own vault');
}

/** KITH_FORBIDDEN unless the person is an admin of the space now. */
function assertAdmin(state: SpaceState, person: string, what: string): void {
  const role = state.m.member(person)?.role;
  if (role === 'admin') return;
  throw new RelayError(403, ErrorCode.Forbidden, `only an admin of the space ${what}; this device’s person is a ${role ?? 'non-member'}`, {
    hint: 'ask an admin of the space',
  });
}

/** KITH_FORBIDDEN unless the person is a writer or admin of the space now. */
function assertWriter(state: SpaceState, person: string): void {
  const role = state.m.member(person)?.role;
  if (role === 'admin' || role === 'writer') return;
  throw new RelayError(403, ErrorCode.Forbidden, `a ${role ?? 'non-member'} of the space cannot write its data`, {
    hint: 'ask an admin of the space to make you a writer',
  });
}
