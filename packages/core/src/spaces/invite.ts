/**
 * @module spaces/invite
 * Inviting a person into a space through any remote both can reach, as
 * step functions (no loops of their own, no timers): the admin's device
 * writes an `offer`, the invitee's device an `answer`, the admin's device
 * a `done`, under `invites/<inviteId>/` under the space's root, each sealed
 * under a channel key from the one-time code. Both screens show a short
 * authentication string over both identity keys and both ephemeral keys,
 * so a remote that knows the code and substitutes keys shows two
 * different strings. Single use: the answer and the done are written with
 * put-if-absent, and the offer is deleted once answered. The offer carries
 * its expiry, and so does a plain `expires` object beside it (the admins'
 * devices that do not hold the code read it to delete expired invites).
 * The code and channel follow pairing's (docs/FORMAT.md
 * "Pairing"), with their own version byte and domains so that neither
 * protocol's message opens in the other. See docs/FORMAT.md "Invite".
 */
import type { Deps } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import {
  boxKeyFromSecret,
  bytesEqual,
  bytesToHex,
  concatBytes,
  ed25519Sign,
  ed25519Verify,
  fromBase64url,
  hexToBytes,
  sha256,
  toBase64url,
  u64,
  utf8,
  x25519Shared,
  type BoxKeyPair,
} from '../crypto/index.js';
import { putIfAbsentHolds } from '../ports/put-if-absent.js';
import type { Remote } from '../ports/remote.js';
import { generateCode, openMessage, parseCode, sasDigits, sealMessage, type CodeProtocol } from '../identity/one-time-code.js';
import { ROLES, type Role } from './membership-entry.js';
import type { Membership, MembershipPin } from './membership.js';
import { isPersonConsistent, type PersonKeys, type PersonPublic } from './person.js';

const INVITE: CodeProtocol = { version: 3, domain: 'kith/v1/invite' }; // recovery codes use 1, pairing codes 2

export interface InviteCode {
  readonly inviteId: string;
  readonly secret: Uint8Array;
}

/** The three messages of an invite. */
export type InviteMessage = 'offer' | 'answer' | 'done';
export const inviteKey = (inviteId: string, m: InviteMessage): string => `invites/${inviteId}/${m}`;
export const INVITES_PREFIX = 'invites/';
/** The invite's expiry in plain (u64 ms, big-endian): what lets an admin's device that lacks the code delete it once expired. */
export const inviteExpiresKey = (inviteId: string): string => `invites/${inviteId}/expires`;
export const INVITE_EXPIRES_BYTES = 8;
/**
 * How long after its expiry an invite's objects stay: the invitee waits for
 * the decision up to 10 minutes after answering (by default), and a `done`
 * deleted before it is read leaves a member who does not know it.
 */
export const INVITE_SWEEP_GRACE_MS = 60 * 60_000;

/** A fresh one-time invite code: 32 Crockford base32 characters in 8 groups. */
export function generateInviteCode(random: (n: number) => Uint8Array): InviteCode & { code: string } {
  const { code, id, secret } = generateCode(INVITE, random);
  return { code, inviteId: id, secret };
}

const badCode = (why: string, reason = 'mistyped'): KithError =>
  new KithError(ErrorCode.BadInviteCode, `the invite code ${why}`, { hint: 'copy the code again from the person who invited you', reason });

/** Parses an invite code (case, spaces, dashes and Crockford aliases forgiven). */
export function parseInviteCode(text: string): InviteCode {
  const { id, secret } = parseCode(
    INVITE,
    text,
    (why) => badCode(`looks mistyped (${why})`),
    (v) => (v === 1 || v === 2 ? badCode(`is a ${v === 1 ? 'recovery' : 'pairing'} code, not an invite code`, 'not-an-invite') : undefined),
  );
  return { inviteId: id, secret };
}

const channel = (c: InviteCode) => ({ id: c.inviteId, secret: c.secret });
const seal = (c: InviteCode, m: InviteMessage, body: object, random: (n: number) => Uint8Array): Promise<Uint8Array> =>
  sealMessage(INVITE, channel(c), m, body, random);

async function open<T>(c: InviteCode, m: InviteMessage, bytes: Uint8Array): Promise<T> {
  try {
    return await openMessage<T>(INVITE, channel(c), m, bytes, 'start the invite again');
  } catch (e) {
    // The offer is the first message the invitee opens: failing there means the code's secret is wrong.
    if (m === 'offer') throw new KithError(ErrorCode.BadInviteCode, 'the invite code does not open this invite', { cause: e, reason: 'wrong-code' });
    throw e;
  }
}

interface Offer {
  v: 1;
  spaceId: string;
  role: Role;
  admin: { personId: string; signPub: string; boxPub: string };
  /** The chain position the admin invites at (seq, hash hex). */
  chain: { seq: number; hash: string };
  eph: string;
  expiresAt: number;
}

interface Answer {
  v: 1;
  personId: string;
  name: string;
  signPub: string;
  boxPub: string;
  eph: string;
  sig: string;
}

/** Why an admin closed an invite without admitting anyone. */
export type InviteRefusal = 'declined' | 'cancelled' | 'expired';

interface Done {
  v: 1;
  ok: boolean;
  reason?: InviteRefusal;
  /** On ok: the membership entry that added the invitee. */
  seq?: number;
  hash?: string;
}

/** Longest invitee name, in UTF-8 bytes. */
export const MAX_INVITEE_NAME_BYTES = 200;

const malformed = (m: InviteMessage): KithError =>
  new KithError(ErrorCode.IntegrityCorrupt, `the invite ${m} message is malformed`, { hint: 'start the invite again' });

/** Only a holder of the code can write a message, yet what it holds is checked before use: a 32- or 64-byte base64url value. */
function bytesIn(m: InviteMessage, s: unknown, n: number): Uint8Array {
  if (typeof s === 'string') {
    try {
      const b = fromBase64url(s);
      if (b.length === n) return b;
    } catch {
      // falls through to the refusal
    }
  }
  throw malformed(m);
}

function personIn(m: InviteMessage, p: unknown): PersonPublic {
  const o = (typeof p === 'object' && p !== null ? p : {}) as Record<string, unknown>;
  const person = { personId: String(o.personId), signPub: bytesIn(m, o.signPub, 32), boxPub: bytesIn(m, o.boxPub, 32) };
  if (!isPersonConsistent(person)) throw new KithError(ErrorCode.IntegrityCorrupt, `the invite ${m} names an identity whose id does not match its key`);
  return person;
}

function pinIn(m: InviteMessage, seq: unknown, hash: unknown): MembershipPin {
  if (!Number.isSafeInteger(seq) || (seq as number) < 1 || typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)) throw malformed(m);
  return { seq: seq as number, hash: hexToBytes(hash) };
}

const nameOk = (name: unknown): name is string => typeof name === 'string' && utf8(name).length <= MAX_INVITEE_NAME_BYTES;

/** What the invitee signs with their identity key: they hold it, and answer this very offer. */
function answerProof(c: InviteCode, offerHash: Uint8Array, a: Omit<Answer, 'sig' | 'v'>): Uint8Array {
  return concatBytes(utf8('kith/v1/invite/answer'), hexToBytes(c.inviteId), offerHash, utf8(JSON.stringify([a.personId, a.name, a.signPub, a.boxPub, a.eph])));
}

/** Six digits both screens show: both identity keys, both ephemeral keys (through their agreement) and both messages. */
async function inviteSas(
  c: InviteCode,
  shared: Uint8Array,
  admin: Uint8Array,
  invitee: Uint8Array,
  offerBytes: Uint8Array,
  answerBytes: Uint8Array,
): Promise<string> {
  return sasDigits(
    shared,
    hexToBytes(c.inviteId),
    concatBytes(utf8('kith/v1/invite-sas'), admin, invitee, await sha256(offerBytes), await sha256(answerBytes)),
  );
}

const gone = (why: string, reason: string): KithError =>
  new KithError(ErrorCode.InviteExpired, `this invite ${why}`, { hint: 'ask for a new invite code; check that both of you use the same remote', reason });

// ---- the admin's side

/** An invite the admin's device has offered and not yet closed. Kept in memory only: the code's secret never leaves the device. */
export interface PendingInvite {
  readonly code: string;
  readonly c: InviteCode;
  readonly offerBytes: Uint8Array;
  readonly eph: BoxKeyPair;
  readonly expiresAt: number;
  readonly admin: PersonPublic;
  readonly role: Role;
}

export interface OfferOptions {
  readonly spaceId: string;
  readonly role: Role;
  readonly admin: PersonKeys;
  /** The admin's verified chain position: the invitee checks the chain it reads against it. */
  readonly chain: MembershipPin;
  /** How long the code is valid, from now. */
  readonly ttlMs: number;
  /** Also write the invite's plain `expires` first, so that any admin's sync can delete it once expired (the flow does; default false). */
  readonly dated?: boolean;
}

/** Step 1 (admin): writes the offer and returns the code to show. */
export async function offerInvite(remote: Remote, o: OfferOptions, deps: Deps): Promise<PendingInvite> {
  if (!ROLES.includes(o.role)) throw new KithError(ErrorCode.BadInput, `unknown role ${String(o.role)}: use admin, writer or reader`);
  if (!Number.isSafeInteger(o.ttlMs) || o.ttlMs <= 0)
    throw new KithError(ErrorCode.BadInput, 'an invite must be valid for a positive whole number of milliseconds');
  const c = generateInviteCode(deps.random);
  const eph = boxKeyFromSecret(deps.random(32));
  const expiresAt = deps.now() + o.ttlMs;
  const offer: Offer = {
    v: 1,
    spaceId: o.spaceId,
    role: o.role,
    admin: { personId: o.admin.personId, signPub: toBase64url(o.admin.signPub), boxPub: toBase64url(o.admin.boxPub) },
    chain: { seq: o.chain.seq, hash: bytesToHex(o.chain.hash) },
    eph: toBase64url(eph.pub),
    expiresAt,
  };
  const offerBytes = await seal(c, 'offer', offer, deps.random);
  // The expiry first: an offer never stands without what dates it for the sweep.
  if (o.dated) await remote.put(inviteExpiresKey(c.inviteId), u64(expiresAt), { ifAbsent: true });
  await remote.put(inviteKey(c.inviteId, 'offer'), offerBytes, { ifAbsent: true });
  return { code: c.code, c, offerBytes, eph, expiresAt, admin: o.admin, role: o.role };
}

/** Who answered, and the string to compare with the one on their screen. */
export interface InviteAnswer {
  readonly person: PersonPublic;
  readonly name: string;
  readonly sas: string;
}

/**
 * Step 3 (admin): the answer, or null while there is none. An answer
 * past the offer's expiry is refused (KITH_INVITE_EXPIRED); once one is
 * read, the offer is deleted so the code serves nobody else.
 */
export async function readInviteAnswer(remote: Remote, p: PendingInvite, deps: Deps): Promise<InviteAnswer | null> {
  const answerBytes = await remote.get(inviteKey(p.c.inviteId, 'answer'));
  if (!answerBytes) {
    if (deps.now() <= p.expiresAt) return null;
    await remote.delete(inviteKey(p.c.inviteId, 'offer'));
    throw gone('expired before anyone answered', 'expired');
  }
  await remote.delete(inviteKey(p.c.inviteId, 'offer'));
  if (deps.now() > p.expiresAt) throw gone('was answered after it expired', 'expired');
  const a = await open<Answer>(p.c, 'answer', answerBytes);
  const person = personIn('answer', a);
  const eph = bytesIn('answer', a.eph, 32);
  if (!nameOk(a.name)) throw malformed('answer');
  if (!(await ed25519Verify(person.signPub, answerProof(p.c, await sha256(p.offerBytes), a), bytesIn('answer', a.sig, 64)))) {
    throw new KithError(ErrorCode.IntegrityCorrupt, 'the invitee did not prove they hold their identity key');
  }
  const sas = await inviteSas(p.c, x25519Shared(p.eph.secret, eph), p.admin.signPub, person.signPub, p.offerBytes, answerBytes);
  return { person, name: a.name, sas };
}

/**
 * Step 4 (admin): closes the invite, once. Call with `ok: true` and the
 * entry that added the invitee after the user confirmed equal strings;
 * with `ok: false` otherwise. The done is written with put-if-absent: if
 * one is there already the invite was closed before (KITH_INVITE_EXPIRED),
 * so check {@link inviteClosed} before adding the person.
 */
export async function closeInvite(
  remote: Remote,
  p: PendingInvite,
  result: { readonly ok: true; readonly admitted: MembershipPin } | { readonly ok: false; readonly reason: InviteRefusal },
  deps: Deps,
): Promise<void> {
  const done: Done = result.ok
    ? { v: 1, ok: true, seq: result.admitted.seq, hash: bytesToHex(result.admitted.hash) }
    : { v: 1, ok: false, reason: result.reason };
  const bytes = await seal(p.c, 'done', done, deps.random);
  const key = inviteKey(p.c.inviteId, 'done');
  await remote.put(key, bytes, { ifAbsent: true });
  await remote.delete(inviteKey(p.c.inviteId, 'offer'));
  const stored = await remote.get(key);
  if (!stored || !bytesEqual(stored, bytes)) throw gone('was already closed', 'used');
}

/** True when the invite was closed already (its done exists). */
export async function inviteClosed(remote: Remote, p: PendingInvite): Promise<boolean> {
  return (await remote.head(inviteKey(p.c.inviteId, 'done'))) !== null;
}

// ---- the invitee's side

/** An invite this device answered. */
export interface PendingJoin {
  readonly c: InviteCode;
  readonly spaceId: string;
  readonly role: Role;
  readonly admin: PersonPublic;
  readonly chain: MembershipPin;
  readonly person: PersonPublic;
  /** The string to compare with the one on the admin's screen. */
  readonly sas: string;
}

/** Step 2 (invitee): reads the offer and answers it with the person's identity. */
export async function answerInvite(remote: Remote, codeText: string, person: PersonKeys, name: string, deps: Deps): Promise<PendingJoin> {
  if (!nameOk(name)) throw new KithError(ErrorCode.BadInput, `a name is at most ${MAX_INVITEE_NAME_BYTES} bytes`);
  const c = parseInviteCode(codeText);
  const offerBytes = await remote.get(inviteKey(c.inviteId, 'offer'));
  if (!offerBytes) throw gone('expired or was already used', 'code-gone');
  const offer = await open<Offer>(c, 'offer', offerBytes);
  if (typeof offer.expiresAt !== 'number') throw malformed('offer');
  if (!(offer.expiresAt >= deps.now())) throw gone('expired', 'expired');
  if (await remote.head(inviteKey(c.inviteId, 'done'))) throw gone('was already used', 'used');
  const admin = personIn('offer', offer.admin);
  const chain = pinIn('offer', offer.chain?.seq, offer.chain?.hash);
  const adminEph = bytesIn('offer', offer.eph, 32);
  if (!ROLES.includes(offer.role) || typeof offer.spaceId !== 'string' || !/^[0-9a-f]{32}$/.test(offer.spaceId)) throw malformed('offer');
  const eph = boxKeyFromSecret(deps.random(32));
  const body: Omit<Answer, 'sig' | 'v'> = {
    personId: person.personId,
    name,
    signPub: toBase64url(person.signPub),
    boxPub: toBase64url(person.boxPub),
    eph: toBase64url(eph.pub),
  };
  const sig = await ed25519Sign(person.sign.seed, answerProof(c, await sha256(offerBytes), body));
  const answerBytes = await seal(c, 'answer', { v: 1, ...body, sig: toBase64url(sig) } satisfies Answer, deps.random);
  const key = inviteKey(c.inviteId, 'answer');
  if (!(await putIfAbsentHolds(remote, key, answerBytes))) throw gone('was already used', 'used');
  return {
    c,
    spaceId: offer.spaceId,
    role: offer.role,
    admin,
    chain,
    person,
    sas: await inviteSas(c, x25519Shared(eph.secret, adminEph), admin.signPub, person.signPub, offerBytes, answerBytes),
  };
}

/**
 * Step 5 (invitee): the admin's decision, or null while there is none.
 * Declined: KITH_INVITE_DECLINED; cancelled or expired: KITH_INVITE_EXPIRED.
 * On ok, the position of the entry that should have added the invitee,
 * to check with {@link checkAdmission}.
 */
export async function readInviteDone(remote: Remote, j: PendingJoin): Promise<MembershipPin | null> {
  const bytes = await remote.get(inviteKey(j.c.inviteId, 'done'));
  if (!bytes) return null;
  const done = await open<Done>(j.c, 'done', bytes);
  if (!done.ok) {
    if (done.reason === 'cancelled' || done.reason === 'expired') throw gone(`was ${done.reason} by the admin`, `admin-${done.reason}`);
    throw new KithError(ErrorCode.InviteDeclined, 'the admin declined the invite', { hint: 'compare the six digits on both screens and try again' });
  }
  return pinIn('done', done.seq, done.hash);
}

/**
 * Step 6 (invitee): fails closed unless the space's chain, verified from
 * its first entry, is the one the offer named (same space, the offer's
 * position and the admitting entry on it), the inviter was an admin at
 * the offer's position, and the admitting entry gave this very identity
 * the offered role. Call with the chain read from the space's remote.
 */
export function checkAdmission(m: Membership, j: PendingJoin, admitted: MembershipPin): void {
  if (m.spaceId !== j.spaceId) throw new KithError(ErrorCode.IntegrityCorrupt, 'the membership chain is of another space than the invite');
  m.checkPin(j.chain);
  m.checkPin(admitted);
  // A personId stands for one signing key (person.ts), so the id settles whose key it is.
  if (m.roleAt(j.admin.personId, j.chain.seq) !== 'admin') {
    throw new KithError(ErrorCode.IntegrityUnknownSigner, 'the invite was not offered by an admin of the space');
  }
  const me = m.member(j.person.personId);
  if (m.roleAt(j.person.personId, admitted.seq) !== j.role || !me || !bytesEqual(me.signPub, j.person.signPub) || !bytesEqual(me.boxPub, j.person.boxPub)) {
    throw new KithError(ErrorCode.IntegrityCorrupt, 'the membership chain does not admit this identity with the offered role');
  }
}
