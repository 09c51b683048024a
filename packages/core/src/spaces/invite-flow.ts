/**
 * @module spaces/invite-flow
 * The invite as two waiting flows over the space's remote, built on the
 * step functions of spaces/invite.ts: the admin offers, waits for an
 * answer, asks the user to compare the strings, adds the person and
 * closes; the invitee answers, waits for the decision, verifies the chain
 * admits them, certifies their devices and waits for the key.
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { answerWithin } from '../identity/one-time-code.js';
import { abortableSleep, type Remote } from '../ports/remote.js';
import {
  answerInvite,
  checkAdmission,
  closeInvite,
  inviteClosed,
  inviteKey,
  offerInvite,
  readInviteAnswer,
  readInviteDone,
  type InviteAnswer,
  type InviteRefusal,
  type PendingInvite,
} from './invite.js';
import { removeInvite } from './invite-sweep.js';
import type { Role } from './membership-entry.js';
import { appendMembership } from './membership.js';
import {
  assertOwnDevices,
  certifyOwnDevices,
  currentSpaceKey,
  shareKeysWithNewDevices,
  signInToSpace,
  type OwnDevices,
  type SpaceActor,
  type SpaceOpsDeps,
} from './space-ops.js';
import { assertMember } from './space-segments.js';
import { SpaceState } from './space-state.js';

const DEFAULT_TIMEOUT_MS = 10 * 60_000;
const DEFAULT_POLL_MS = 500;
/** However late the user confirmed, the admin's device waits this long for the invitee's certificate to seal the key to it. */
const MIN_SHARE_WAIT_MS = 30_000;

const expired = (what: string): KithError =>
  new KithError(ErrorCode.InviteExpired, `${what}; the invite code is no longer valid`, { hint: 'invite again for a new code', reason: 'no-answer' });

/** What the invitee is told when the invite ends without them: the reason the error stands for. */
const refusalOf = (e: unknown): InviteRefusal =>
  KithError.is(e, ErrorCode.InviteDeclined) ? 'declined' : KithError.is(e, ErrorCode.InviteExpired) ? 'expired' : 'cancelled';

export interface AdminInviteOptions {
  /** Default 'writer'. */
  readonly role?: Role;
  /** How long the code stays valid (default 10 minutes); the user's confirmation is due within it too. */
  readonly timeoutMs?: number;
  /** Poll interval while waiting (default 500 ms). */
  readonly pollMs?: number;
  readonly signal?: AbortSignal;
  /** Called once with the code's 8 groups (the Vault appends `@<space remote URL>`). */
  readonly onCode: (code: string) => void;
  /** Resolve true when both screens show `sas`; `o.signal` fires when the answer is no longer wanted. */
  readonly confirm: (sas: string, who: { personId: string; name: string }, o: { signal: AbortSignal }) => Promise<boolean>;
}

export interface AdminInviteResult {
  readonly personId: string;
  readonly name: string;
  readonly role: Role;
  readonly sas: string;
  /** How many of the new member's devices this device sealed the current key to (0: it stopped waiting first). */
  readonly shared: number;
}

/**
 * The admin's side: offer → wait for the answer → confirm → add → done;
 * then, while the code's time lasts, wait for the invitee's first
 * certificate and seal the current key to their devices (every member's
 * sync does it too, should this stop early). Once the certificate is in,
 * the invitee has read the `done`, so the invite's objects are deleted; a
 * refusal deletes the answer and leaves the `done` for the invitee to read
 * the reason; what is left goes with any admin's sweep after the expiry.
 */
export async function adminInvite(remote: Remote, state: SpaceState, me: SpaceActor, o: AdminInviteOptions, deps: SpaceOpsDeps): Promise<AdminInviteResult> {
  const role = o.role ?? 'writer';
  const pollMs = o.pollMs ?? DEFAULT_POLL_MS;
  await state.refresh(remote);
  const personId = me.person.personId;
  assertMember(state, personId);
  if (state.m.member(personId)!.role !== 'admin') {
    throw new KithError(ErrorCode.Forbidden, `only admins of space ${state.spaceId} invite`, { hint: 'ask an admin of the space', reason: 'not-admin' });
  }
  const p = await offerInvite(
    remote,
    { spaceId: state.spaceId, role, admin: me.person, chain: state.m.pin, ttlMs: o.timeoutMs ?? DEFAULT_TIMEOUT_MS, dated: true },
    deps,
  );
  let answer: InviteAnswer | null = null;
  let closed = false;
  try {
    o.onCode(p.code);
    while (!(answer = await readInviteAnswer(remote, p, deps))) await abortableSleep(pollMs, o.signal, 'invite cancelled');
    const who = { personId: answer.person.personId, name: answer.name };
    const ok = await answerWithin(
      p.expiresAt - deps.now(),
      o.signal,
      (signal) => o.confirm(answer!.sas, who, { signal }),
      () => expired('no answer came in time'),
      'invite cancelled',
    );
    if (!ok) throw new KithError(ErrorCode.InviteDeclined, 'invite declined: the strings did not match or you said no');
    if (await inviteClosed(remote, p)) throw expired('the invite was closed already');
    const { seq } = await appendMembership(remote, state.m, me.person, { kind: 'add', person: answer.person, role }, deps);
    if (seq === null) throw new KithError(ErrorCode.BadInput, `${who.personId} is a member of space ${state.spaceId} already`);
    closed = true;
    await closeInvite(remote, p, { ok: true, admitted: { seq, hash: state.m.hashAt(seq)! } }, deps);
  } catch (e) {
    // Whatever stopped us, an invitee who is waiting is told at once.
    if (!closed) {
      await closeInvite(remote, p, { ok: false, reason: refusalOf(e) }, deps).catch(() => undefined);
      await remote.delete(inviteKey(p.c.inviteId, 'answer')).catch(() => undefined);
    }
    throw e;
  }
  const { shared, certified } = await shareWhenCertified(remote, state, me, answer.person.personId, p, o, deps);
  // Best effort: a stop here leaves the objects to the sweep of any admin's sync after the expiry.
  if (certified) await removeInvite(remote, p.c.inviteId).catch(() => undefined);
  return { personId: answer.person.personId, name: answer.name, role, sas: answer.sas, shared };
}

/**
 * Waits for the new member's first certificate and seals the current key
 * to their devices. Best effort: the person is a member already, and every
 * member's sync seals the key too; so a stop here (time, cancel, a remote
 * error) ends the wait, not the invite.
 */
async function shareWhenCertified(
  remote: Remote,
  state: SpaceState,
  me: SpaceActor,
  personId: string,
  p: PendingInvite,
  o: AdminInviteOptions,
  deps: SpaceOpsDeps,
): Promise<{ shared: number; certified: boolean }> {
  const until = Math.max(p.expiresAt, deps.now() + MIN_SHARE_WAIT_MS);
  let certified = false;
  try {
    for (;;) {
      await state.refresh(remote);
      if ((state.certs(personId)?.version ?? 0) > 0) {
        certified = true;
        return { shared: await shareKeysWithNewDevices(remote, state, me, deps), certified };
      }
      if (deps.now() > until) return { shared: 0, certified };
      await abortableSleep(o.pollMs ?? DEFAULT_POLL_MS, o.signal);
    }
  } catch {
    return { shared: 0, certified };
  }
}

export interface JoinInviteOptions {
  readonly onSas?: (sas: string) => void;
  /** How long to wait for the admin's decision, and then for the key (default 10 minutes). */
  readonly timeoutMs?: number;
  readonly pollMs?: number;
  readonly signal?: AbortSignal;
}

export interface JoinInviteResult {
  readonly spaceId: string;
  readonly role: Role;
  readonly sas: string;
  readonly state: SpaceState;
  /** False when publishing the person's certificate failed (the join stands; the next sync certifies). */
  readonly certified: boolean;
  /** The current epoch's key sealed to this device, or null if none came in time (a member's later sync seals it). */
  readonly epochKey: Uint8Array | null;
}

/**
 * The invitee's side: answer (the 8 groups of the code, without the URL)
 * → wait for the admin's decision → verify the chain admits this identity
 * with the offered role → publish the first certificate listing `devices`
 * → wait for the current key.
 */
export async function joinInvite(
  remote: Remote,
  code: string,
  me: SpaceActor,
  devices: OwnDevices,
  name: string,
  o: JoinInviteOptions,
  deps: SpaceOpsDeps,
): Promise<JoinInviteResult> {
  const pollMs = o.pollMs ?? DEFAULT_POLL_MS;
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  assertOwnDevices(me, devices); // before answering: nothing is sent for a join this device could not finish
  const j = await answerInvite(remote, code, me.person, name, deps);
  o.onSas?.(j.sas);
  const decideBy = deps.now() + timeoutMs;
  let admitted;
  // Invites need no key, and a relay refuses a person's sign-in until the chain admits them: wait unsigned.
  while (!(admitted = await readInviteDone(remote, j))) {
    if (deps.now() > decideBy) throw expired('the admin did not decide in time');
    await abortableSleep(pollMs, o.signal, 'joining cancelled');
  }
  // The space's objects need a key, and until its first certificate the person's is the one this device has.
  signInToSpace(remote, j.spaceId, me, 'person');
  const state = await new SpaceState(j.spaceId).refresh(remote);
  checkAdmission(state.m, j, admitted);
  // A member now, and the code is spent: from here a failure must not lose the space, so it ends the join early
  // (`certified` false or no key) and the next sync, which certifies and seals keys too, finishes it.
  let certified = false;
  let key: { epochKey: Uint8Array } | null = null;
  try {
    await certifyOwnDevices(remote, state, me, devices, deps);
    certified = true;
    const keyBy = deps.now() + timeoutMs;
    while (!(key = await currentSpaceKey(remote, state, me)) && deps.now() <= keyBy && !o.signal?.aborted) {
      await abortableSleep(pollMs, o.signal).catch(() => undefined);
    }
  } catch (e) {
    if (!(e instanceof KithError)) throw e; // a bug, not the remote or the space refusing
  }
  return { spaceId: j.spaceId, role: j.role, sas: j.sas, state, certified, epochKey: key?.epochKey ?? null };
}
