/**
 * @module spaces/membership
 * A space's membership chain: who is a member, with which role, at every
 * seq. Verified entry by entry from bytes (tamper, replay, rollback, a
 * forged or unauthorized signer, another space: all refused with a
 * KITH_INTEGRITY_* code), and appended by put-if-absent on the next seq,
 * so concurrent changes by two admins end as one linear chain that every
 * replica reads alike. See docs/FORMAT.md "Membership entry".
 *
 * Role rules (checked by every reader; an entry breaking one is corrupt):
 * - only admins add, change roles and remove; any member may leave;
 * - an admin removes others, never themselves (that is `leave`);
 * - while the space has members it has an admin: the last admin can be
 *   neither demoted nor leave while other members remain (promote one
 *   first); the last member leaving closes the space (nothing may follow).
 */
import type { Clock } from '../base/deps.js';
import { ErrorCode, KithError, invariant } from '../base/errors.js';
import { bytesEqual } from '../crypto/index.js';
import { corrupt } from '../format/framing.js';
import { putIfAbsentHolds } from '../ports/put-if-absent.js';
import type { Remote } from '../ports/remote.js';
import {
  ROLES,
  decodeMembershipEntry,
  encodeMembershipEntry,
  membershipKey,
  spaceIdOf,
  type MembershipChange,
  type MembershipEntry,
  type PersonCutDevice,
  type Role,
} from './membership-entry.js';
import { isPersonConsistent, type PersonKeys, type PersonPublic } from './person.js';
import { personCut, type LastSeqOf } from './person-cut.js';

export interface Member extends PersonPublic {
  readonly role: Role;
  /** The seq of the entry that gave the member their current role. */
  readonly since: number;
}

/** What an admin (or a leaving member) wants; re-applied on top of whatever won a race. */
export type MembershipIntent =
  | { readonly kind: 'add'; readonly person: PersonPublic; readonly role: Role }
  | { readonly kind: 'role'; readonly personId: string; readonly role: Role }
  | { readonly kind: 'remove'; readonly personId: string }
  | { readonly kind: 'leave' };

/** A verified position of the chain, to refuse a shorter or forked chain later. */
export interface MembershipPin {
  readonly seq: number;
  readonly hash: Uint8Array;
}

const ZERO_HASH = new Uint8Array(32);
const MAX_APPEND_ATTEMPTS = 64;

/** The verified chain of one space, replayed in memory. */
export class Membership {
  readonly #members = new Map<string, Member>();
  /** Per person, the role from each seq on (null: not a member), ascending. */
  readonly #history = new Map<string, { seq: number; role: Role | null }[]>();
  readonly #hashes: Uint8Array[] = [];
  /** Who signed each entry and when (index seq − 1): what KITH_REMOVED tells a removed member. */
  readonly #signed: { signer: string; at: number }[] = [];
  /** Everyone who was ever a member, with the keys the chain gave them. */
  readonly #people = new Map<string, PersonPublic>();
  /** Per person, each entry that ended their right to write, ascending, with its cut (undefined: a version 1 entry). */
  readonly #writeEnds = new Map<string, { seq: number; cut: readonly PersonCutDevice[] | undefined }[]>();
  #closed = false;

  private constructor(readonly spaceId: string) {
    if (!/^[0-9a-f]{32}$/.test(spaceId)) throw new KithError(ErrorCode.BadInput, 'a spaceId is 32 lowercase hex characters');
  }

  /** The seq of the last verified entry (0: none yet). */
  get seq(): number {
    return this.#hashes.length;
  }
  get hash(): Uint8Array {
    return this.#hashes[this.#hashes.length - 1] ?? ZERO_HASH;
  }
  get pin(): MembershipPin {
    return { seq: this.seq, hash: this.hash };
  }
  /** The last member left: the space takes no more entries. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Current members in personId order. */
  members(): Member[] {
    return [...this.#members.values()].sort((a, b) => (a.personId < b.personId ? -1 : 1));
  }
  member(personId: string): Member | undefined {
    return this.#members.get(personId);
  }

  /** The person's role just after entry `seq` (null: not a member then). */
  roleAt(personId: string, seq: number): Role | null {
    let role: Role | null = null;
    for (const h of this.#history.get(personId) ?? []) {
      if (h.seq > seq) break;
      role = h.role;
    }
    return role;
  }

  /** The people who were members just after entry `seq`, in personId order. */
  membersAt(seq: number): string[] {
    return [...this.#history.keys()].filter((p) => this.roleAt(p, seq) !== null).sort();
  }

  /** Everyone who is or was a member, in personId order. */
  everyone(): string[] {
    return [...this.#people.keys()].sort();
  }

  /** The public keys of someone who is or was a member. */
  person(personId: string): PersonPublic | undefined {
    return this.#people.get(personId);
  }

  /** True when the person could write to the space's data at membership seq `seq` (a writer or admin then). */
  canWriteAt(personId: string, seq: number): boolean {
    const role = seq <= this.seq ? this.roleAt(personId, seq) : null;
    return role === 'admin' || role === 'writer';
  }

  /**
   * The first entry after `seq` that ended the person's right to write (a
   * demotion to reader, a removal, a leave), with its cut (undefined: a
   * version 1 entry, which carries none); undefined if none did.
   */
  writeEnd(personId: string, seq: number): { seq: number; cut: readonly PersonCutDevice[] | undefined } | undefined {
    return this.#writeEnds.get(personId)?.find((x) => x.seq > seq);
  }

  /** The person whose right to write `change` by `signer` would end on top of this chain, or null (none does). */
  writeEndedBy(signer: string, change: MembershipChange): string | null {
    const target = change.kind === 'leave' ? signer : change.kind === 'role' || change.kind === 'remove' ? change.personId : null;
    if (target === null) return null;
    const role = this.#members.get(target)?.role;
    if (role !== 'admin' && role !== 'writer') return null;
    return change.kind === 'role' && change.role !== 'reader' ? null : target;
  }

  /**
   * The entry that last ended the person's membership (a remove or their
   * leave): its seq, signer and time; undefined if they are a member or
   * never were.
   */
  removal(personId: string): { seq: number; by: string; at: number } | undefined {
    const h = this.#history.get(personId);
    const last = h?.[h.length - 1];
    if (!last || last.role !== null) return undefined;
    const { signer, at } = this.#signed[last.seq - 1]!;
    return { seq: last.seq, by: signer, at };
  }

  /** The hash of entry `seq` (1-based), if verified. */
  hashAt(seq: number): Uint8Array | undefined {
    return this.#hashes[seq - 1];
  }

  /** An empty chain for `spaceId`, to be filled by {@link accept} or {@link refresh}. */
  static empty(spaceId: string): Membership {
    return new Membership(spaceId);
  }

  /**
   * Verifies a whole chain from its bytes (entry 1 first). With `pin`, a
   * chain shorter than the pin is a rollback and one with another hash at
   * the pinned seq a fork.
   */
  static async verify(spaceId: string, entries: readonly Uint8Array[], pin?: MembershipPin): Promise<Membership> {
    const m = new Membership(spaceId);
    for (const bytes of entries) await m.accept(bytes);
    if (pin) m.checkPin(pin);
    return m;
  }

  /** Refuses this chain if it is behind or off a position verified before. */
  checkPin(pin: MembershipPin): void {
    if (pin.seq > this.seq) {
      throw new KithError(
        ErrorCode.IntegrityRollback,
        `the membership chain ends at entry ${this.seq}, before entry ${pin.seq} seen earlier: it was rolled back`,
        {
          hint: 'the remote is withholding membership entries; use another copy of the remote',
        },
      );
    }
    if (pin.seq > 0 && !bytesEqual(this.hashAt(pin.seq)!, pin.hash)) {
      throw new KithError(ErrorCode.IntegrityChain, `membership entry ${pin.seq} differs from the one seen earlier: the chain was forked`);
    }
  }

  /** Verifies the next entry and applies it. */
  async accept(bytes: Uint8Array): Promise<MembershipEntry> {
    const seq = this.seq + 1;
    if (this.#closed) throw corrupt(`membership entry ${seq}`, 'the space was closed by its last member leaving');
    const { entry, hash } = await decodeMembershipEntry(bytes, { spaceId: this.spaceId, seq, prevHash: this.hash }, (p) => this.#members.get(p)?.signPub);
    this.#apply(entry);
    this.#hashes.push(hash);
    this.#signed.push({ signer: entry.signer, at: entry.at });
    return entry;
  }

  /** Reads and verifies the entries after this chain's end from the space's remote. */
  async refresh(remote: Remote): Promise<number> {
    let n = 0;
    for (let bytes; (bytes = await remote.get(membershipKey(this.seq + 1))); n++) await this.accept(bytes);
    return n;
  }

  /** The change that carries `intent` out on top of this chain, or null when it no longer applies. */
  plan(signer: string, intent: MembershipIntent): MembershipChange | null {
    const change = changeOf(intent);
    return this.#violation(signer, change) === null ? change : null;
  }

  /** Why `intent` by `signer` would break a rule on top of this chain (to tell the user), or null when it applies. */
  refusal(signer: string, intent: MembershipIntent): string | null {
    return this.#violation(signer, changeOf(intent));
  }

  /** Why `change` by `signer` breaks a rule here, or null. */
  #violation(signer: string, c: MembershipChange): string | null {
    if (c.kind === 'create') return this.seq === 0 ? null : 'the space exists';
    if (this.#closed) return 'the space is closed';
    const self = this.#members.get(signer);
    if (!self) return 'the signer is not a member';
    if (c.kind === 'leave')
      return self.role === 'admin' && this.#admins() === 1 && this.#members.size > 1 ? 'the last admin cannot leave while others remain' : null;
    if (self.role !== 'admin') return 'only admins change membership';
    if (c.kind === 'add') return this.#members.has(c.personId) ? 'the person is already a member' : null;
    const target = this.#members.get(c.personId);
    if (!target) return 'the person is not a member';
    if (c.kind === 'remove') return c.personId === signer ? 'an admin leaves rather than removing themselves' : null;
    if (target.role === c.role) return 'the person already has that role';
    return target.role === 'admin' && this.#admins() === 1 ? 'the last admin cannot be demoted' : null;
  }

  #admins(): number {
    let n = 0;
    for (const m of this.#members.values()) if (m.role === 'admin') n++;
    return n;
  }

  #apply(e: MembershipEntry): void {
    const c = e.change;
    const why = this.#violation(e.signer, c);
    if (why !== null) {
      // Signed by a real member, yet not theirs to do: an unauthorized signer, not a damaged object.
      const code = why === 'only admins change membership' ? ErrorCode.IntegrityUnknownSigner : ErrorCode.IntegrityCorrupt;
      throw new KithError(code, `membership entry ${e.seq} is not allowed: ${why}`, {
        hint: 'someone tried to change the members without the right to; remove the object',
      });
    }
    const ended = this.writeEndedBy(e.signer, c);
    // A cut means "this person's right to write ends here": on any other entry it is a lie about the chain.
    if (e.cut && ended === null) throw corrupt(`membership entry ${e.seq}`, 'it cuts someone whose right to write it does not end');
    if (ended !== null) {
      const ends = this.#writeEnds.get(ended) ?? [];
      ends.push({ seq: e.seq, cut: e.cut });
      this.#writeEnds.set(ended, ends);
    }
    const set = (person: PersonPublic, role: Role | null): void => {
      if (role === null) this.#members.delete(person.personId);
      else this.#members.set(person.personId, { personId: person.personId, signPub: person.signPub, boxPub: person.boxPub, role, since: e.seq });
      if (role !== null) this.#people.set(person.personId, { personId: person.personId, signPub: person.signPub, boxPub: person.boxPub });
      const h = this.#history.get(person.personId) ?? [];
      h.push({ seq: e.seq, role });
      this.#history.set(person.personId, h);
    };
    switch (c.kind) {
      case 'create':
        set({ personId: e.signer, signPub: c.signPub, boxPub: c.boxPub }, 'admin');
        break;
      case 'add':
        set(c, c.role);
        break;
      case 'role':
        set(this.#members.get(c.personId)!, c.role);
        break;
      case 'remove':
        set(this.#members.get(c.personId)!, null);
        break;
      case 'leave':
        set(this.#members.get(e.signer)!, null);
        this.#closed = this.#members.size === 0;
        break;
    }
  }
}

const changeOf = (intent: MembershipIntent): MembershipChange =>
  intent.kind === 'add'
    ? { kind: 'add', personId: intent.person.personId, signPub: intent.person.signPub, boxPub: intent.person.boxPub, role: intent.role }
    : intent;

/** Bad input is refused before anything is written: an entry readers would refuse would block the chain for everyone. */
function assertIntent(intent: MembershipIntent): void {
  const bad = (why: string) => new KithError(ErrorCode.BadInput, `cannot change the membership: ${why}`);
  if ((intent.kind === 'add' || intent.kind === 'role') && !ROLES.includes(intent.role))
    throw bad(`unknown role ${String(intent.role)}: use admin, writer or reader`);
  if (intent.kind === 'add' && !isPersonConsistent(intent.person)) throw bad('the person’s id does not match their key');
  if ((intent.kind === 'role' || intent.kind === 'remove') && !/^[0-9a-f]{32}$/.test(intent.personId)) throw bad('a personId is 32 lowercase hex characters');
  if (!['add', 'role', 'remove', 'leave'].includes(intent.kind)) throw bad(`unknown change ${String(intent.kind)}`);
}

/**
 * Founds a space: writes entry 1 with put-if-absent. The spaceId comes
 * from the founder's key and a random nonce, so it is fresh and no one
 * else can write its first entry. Pass the nonce to know the spaceId
 * before anything is written ({@link spaceIdOf}), e.g. to sign in to it.
 */
export async function createSpace(
  remote: Remote,
  founder: PersonKeys,
  deps: { random: (n: number) => Uint8Array; now: Clock },
  nonce = deps.random(16),
): Promise<Membership> {
  if (nonce.length !== 16) throw new KithError(ErrorCode.BadInput, 'a space nonce is 16 bytes');
  const spaceId = spaceIdOf(founder.signPub, nonce);
  const m = Membership.empty(spaceId);
  const entry: MembershipEntry = {
    seq: 1,
    prevHash: ZERO_HASH,
    at: deps.now(),
    signer: founder.personId,
    change: { kind: 'create', nonce, signPub: founder.signPub, boxPub: founder.boxPub },
  };
  const { bytes } = await encodeMembershipEntry(spaceId, entry, founder.sign.seed);
  await remote.put(membershipKey(1), bytes, { ifAbsent: true });
  await m.refresh(remote);
  invariant(m.seq >= 1 && m.member(founder.personId)?.role === 'admin', 'a fresh space id was taken');
  return m;
}

/** What {@link appendMembership} did. */
export interface AppendResult {
  /** The seq of the entry written, or null when the intent no longer applied (it was dropped). */
  readonly seq: number | null;
  /** How many times another writer took the seq first. */
  readonly lost: number;
}

/**
 * Carries out `intent` as `signer`: catch up with the remote, plan the
 * change on top of the newest chain (one that ends a person's right to
 * write carries the cut of their devices, see spaces/person-cut.ts, taken
 * with `deps.lastSeqOf`), write it with put-if-absent at the
 * next seq and read it back. If another writer won that seq, start again
 * from its entry (an intent that no longer applies, such as a role change
 * for someone just removed, is dropped). The chain `m` advances in place.
 * Needs a remote with an atomic put-if-absent (see `capabilities`); on one
 * without, a lost race shows as a fork (KITH_INTEGRITY_CHAIN), never as
 * two replicas that silently disagree.
 */
export async function appendMembership(
  remote: Remote,
  m: Membership,
  signer: PersonKeys,
  intent: MembershipIntent,
  deps: { now: Clock; lastSeqOf?: LastSeqOf },
): Promise<AppendResult> {
  assertIntent(intent);
  for (let lost = 0; lost < MAX_APPEND_ATTEMPTS; lost++) {
    await m.refresh(remote);
    const change = m.plan(signer.personId, intent);
    if (!change) return { seq: null, lost };
    const seq = m.seq + 1;
    // An entry that ends someone's right to write cuts their devices where the chain stands now.
    const ended = m.writeEndedBy(signer.personId, change);
    const entry: MembershipEntry = { seq, prevHash: m.hash, at: deps.now(), signer: signer.personId, change };
    const cut = ended === null ? undefined : await personCut(remote, m.person(ended)!, deps.lastSeqOf);
    const { bytes } = await encodeMembershipEntry(m.spaceId, cut ? { ...entry, cut } : entry, signer.sign.seed);
    if (await putIfAbsentHolds(remote, membershipKey(seq), bytes)) {
      await m.accept(bytes);
      return { seq, lost };
    }
  }
  throw new KithError(ErrorCode.RemoteUnavailable, `could not append to the membership chain after ${MAX_APPEND_ATTEMPTS} attempts`, {
    hint: 'other members keep changing the membership at the same moment; try again',
  });
}
