/**
 * @module spaces/membership-entry
 * `members/<seq>` in a space: one signed entry of the space's membership
 * chain (type `P`). Entries name people by id and key only: names stay in
 * the space's encrypted records, so the remote learns who is a member by
 * key, never by name. Version 2 adds, to an entry that ends a person's
 * right to write, the cut of their devices' segments (docs/FORMAT.md
 * "Membership entry").
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { bytesToHex, concatBytes, sha256, sha256Sync, utf8 } from '../crypto/index.js';
import { ObjectReader, ObjectType, ObjectWriter, corrupt } from '../format/framing.js';
import { personIdOf } from './person.js';
import type { Role } from './roles.js';

export const MEMBERSHIP_DOMAIN = 'kith/v1/membership';
const SPACE_ID_DOMAIN = 'kith/v1/space-id';

export { ROLES, type Role } from './roles.js';
const ROLE_CODES = { admin: 1, writer: 2, reader: 3 } as const;
const ROLE_NAMES: Record<number, Role> = { 1: 'admin', 2: 'writer', 3: 'reader' };

export type MembershipChange =
  /** Seq 1: founds the space; the signer is its first admin. `nonce` makes the spaceId (see {@link spaceIdOf}). */
  | { readonly kind: 'create'; readonly nonce: Uint8Array; readonly signPub: Uint8Array; readonly boxPub: Uint8Array }
  | { readonly kind: 'add'; readonly personId: string; readonly signPub: Uint8Array; readonly boxPub: Uint8Array; readonly role: Role }
  | { readonly kind: 'role'; readonly personId: string; readonly role: Role }
  | { readonly kind: 'remove'; readonly personId: string }
  /** The signer leaves. */
  | { readonly kind: 'leave' };

/** One device of a person whose right to write ends, and the last seq of its segments in the space the signer saw (0: none). */
export interface PersonCutDevice {
  readonly deviceId: string;
  readonly lastSeq: number;
}

export interface MembershipEntry {
  readonly seq: number;
  readonly prevHash: Uint8Array;
  readonly at: number;
  /** The personId whose identity key signs the entry. */
  readonly signer: string;
  readonly change: MembershipChange;
  /**
   * Version 2 only, on a role change, removal or leave that ends a person's
   * right to write: each device of theirs the signer knew, in ascending
   * deviceId order. Their segments naming an earlier membership seq are
   * accepted only up to it (see spaces/writer.ts).
   */
  readonly cut?: readonly PersonCutDevice[];
}

/** Version 1 entries carry no cut; version 2 adds it to role changes, removals and leaves. */
export const MEMBERSHIP_VERSION_CUT = 2;
/** Most devices one entry's cut lists (a person's devices over all their certificate versions). */
export const MAX_CUT_DEVICES = 4096;

const KIND_CODES = { create: 1, add: 2, role: 3, remove: 4, leave: 5 } as const;
const KIND_NAMES = Object.fromEntries(Object.entries(KIND_CODES).map(([k, v]) => [v, k])) as Record<number, MembershipChange['kind']>;

/**
 * The id of the space a founder's key and nonce make: nobody without the
 * founder's identity key can write a valid first entry for it, so a remote
 * cannot present another founder's chain under a known spaceId.
 */
export const spaceIdOf = (founderSignPub: Uint8Array, nonce: Uint8Array): string =>
  bytesToHex(sha256Sync(concatBytes(utf8(SPACE_ID_DOMAIN), founderSignPub, nonce)).subarray(0, 16));

export const membershipKey = (seq: number): string => `members/${String(seq).padStart(12, '0')}`;

const ascendingCut = (cut: readonly PersonCutDevice[]): boolean => cut.every((x, i) => i === 0 || cut[i - 1]!.deviceId < x.deviceId);

/** An entry with a cut is version 2; without one, version 1 (byte for byte what earlier builds wrote). */
export async function encodeMembershipEntry(spaceId: string, e: MembershipEntry, signerSeed: Uint8Array): Promise<{ bytes: Uint8Array; hash: Uint8Array }> {
  const cut = e.cut;
  if (cut) {
    if (e.change.kind === 'create' || e.change.kind === 'add')
      throw new KithError(ErrorCode.Internal, 'internal error: only a role change, removal or leave cuts');
    if (cut.length > MAX_CUT_DEVICES) throw new KithError(ErrorCode.TooLarge, `a membership entry cuts at most ${MAX_CUT_DEVICES} devices`);
    if (!ascendingCut(cut)) throw new KithError(ErrorCode.Internal, 'internal error: cut devices go in strictly ascending order');
  }
  const w = new ObjectWriter(ObjectType.Membership, cut ? MEMBERSHIP_VERSION_CUT : 1)
    .u64(e.seq)
    .bytes(e.prevHash)
    .u64(e.at)
    .hex(e.signer, 16)
    .u8(KIND_CODES[e.change.kind]);
  const c = e.change;
  switch (c.kind) {
    case 'create':
      w.bytes(c.nonce).bytes(c.signPub).bytes(c.boxPub);
      break;
    case 'add':
      w.hex(c.personId, 16).bytes(c.signPub).bytes(c.boxPub).u8(ROLE_CODES[c.role]);
      break;
    case 'role':
      w.hex(c.personId, 16).u8(ROLE_CODES[c.role]);
      break;
    case 'remove':
      w.hex(c.personId, 16);
      break;
    case 'leave':
      break;
  }
  if (cut) {
    w.u32(cut.length);
    for (const x of cut) w.hex(x.deviceId, 8).u64(x.lastSeq);
  }
  const bytes = await w.sign(MEMBERSHIP_DOMAIN, spaceId, signerSeed);
  return { bytes, hash: await sha256(bytes) };
}

/**
 * Decodes an entry and checks its place (seq, prevHash), its self-evident
 * facts (a personId matches its key; a create entry makes this spaceId and
 * is signed by its founder) and its signature by `signerPub(signer)`
 * (undefined: the chain does not know that person at this point).
 */
export async function decodeMembershipEntry(
  bytes: Uint8Array,
  expect: { readonly spaceId: string; readonly seq: number; readonly prevHash: Uint8Array },
  signerPub: (personId: string) => Uint8Array | undefined,
): Promise<{ entry: MembershipEntry; hash: Uint8Array }> {
  const what = `membership entry ${expect.seq}`;
  const r = new ObjectReader(bytes, what, ObjectType.Membership, [1, MEMBERSHIP_VERSION_CUT]);
  const seq = r.u64();
  const prevHash = r.take(32).slice();
  if (seq !== expect.seq) throw new KithError(ErrorCode.IntegrityChain, `${what} holds entry ${seq}: the membership chain was reordered or replayed`);
  if (!prevHash.every((b, i) => b === expect.prevHash[i])) {
    throw new KithError(ErrorCode.IntegrityChain, `${what} does not follow entry ${seq - 1}: the membership chain was altered`);
  }
  const at = r.u64();
  const signer = r.hex(16);
  const code = r.u8();
  const role = (): Role => {
    const n = r.u8();
    const name = ROLE_NAMES[n];
    if (!name) throw corrupt(what, `unknown role ${n}`);
    return name;
  };
  let change: MembershipChange;
  switch (KIND_NAMES[code]) {
    case 'create':
      change = { kind: 'create', nonce: r.take(16).slice(), signPub: r.take(32).slice(), boxPub: r.take(32).slice() };
      break;
    case 'add':
      change = { kind: 'add', personId: r.hex(16), signPub: r.take(32).slice(), boxPub: r.take(32).slice(), role: role() };
      break;
    case 'role':
      change = { kind: 'role', personId: r.hex(16), role: role() };
      break;
    case 'remove':
      change = { kind: 'remove', personId: r.hex(16) };
      break;
    case 'leave':
      change = { kind: 'leave' };
      break;
    default:
      throw corrupt(what, `unknown change kind ${code}`);
  }
  let cut: PersonCutDevice[] | undefined;
  if (r.version === MEMBERSHIP_VERSION_CUT && (change.kind === 'role' || change.kind === 'remove' || change.kind === 'leave')) {
    const k = r.u32();
    if (k > MAX_CUT_DEVICES) throw corrupt(what, 'too many cut devices');
    cut = [];
    for (let i = 0; i < k; i++) cut.push({ deviceId: r.hex(8), lastSeq: r.u64() });
    if (!ascendingCut(cut)) throw corrupt(what, 'cut devices are not in strictly ascending order');
  }
  if ((change.kind === 'create') !== (seq === 1))
    throw corrupt(what, seq === 1 ? 'the first entry must create the space' : 'only the first entry creates the space');
  if (change.kind === 'add' && personIdOf(change.signPub) !== change.personId) throw corrupt(what, 'the added personId is not the one its key stands for');
  let pub: Uint8Array | undefined;
  if (change.kind === 'create') {
    if (personIdOf(change.signPub) !== signer) throw corrupt(what, 'the founder is not the signer');
    if (spaceIdOf(change.signPub, change.nonce) !== expect.spaceId) throw corrupt(what, 'it founds another space');
    pub = change.signPub;
  } else pub = signerPub(signer);
  if (!pub) {
    throw new KithError(ErrorCode.IntegrityUnknownSigner, `${what} is signed by ${signer}, who is not a member of the space at that point`, {
      hint: 'someone with write access to the remote tried to change the members; remove the object',
    });
  }
  await r.verify(MEMBERSHIP_DOMAIN, expect.spaceId, pub);
  const entry: MembershipEntry = cut ? { seq, prevHash, at, signer, change, cut } : { seq, prevHash, at, signer, change };
  return { entry, hash: await sha256(bytes) };
}
