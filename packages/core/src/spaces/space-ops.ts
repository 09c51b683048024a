/**
 * @module spaces/space-ops
 * Membership operations over a remote rooted at one space, with explicit
 * arguments (no Vault, no Store): founding a space, publishing the acting
 * person's device certificate, changing roles, removing and leaving, and
 * keeping the key epochs due (a new epoch when a device must lose access,
 * the current key sealed to devices that lack it). The Vault calls these
 * from `vault.spaces.*` and from every sync of a space.
 */
import type { Deps } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { bytesEqual } from '../crypto/index.js';
import { deviceKeyOf } from '../identity/device-key.js';
import { lendDeviceKey } from '../ports/capabilities.js';
import type { Remote } from '../ports/remote.js';
import { publishDeviceCert, type CertifiedDevice } from './device-cert.js';
import { openSpaceEpochKey, sealedRecipients, shareEpochKey } from './epochs.js';
import { startEpoch } from './epoch-start.js';
import { sweepInvites } from './invite-sweep.js';
import type { Role } from './membership-entry.js';
import { appendMembership, createSpace, type MembershipIntent } from './membership.js';
import { spaceIdOf } from './membership-entry.js';
import { listedLastSeq } from './person-cut.js';
import { SpaceState } from './space-state.js';
import { assertMember, type SpaceDevice } from './space-segments.js';

/** One device acting for its person in a space: the person's identity and the device's own keys. */
export interface SpaceActor extends SpaceDevice {
  readonly signPub: Uint8Array;
  readonly boxPub: Uint8Array;
}

/** The person's devices as their personal vault's registry lists them (revoked ones left out). */
export type OwnDevices = readonly CertifiedDevice[];

/**
 * Randomness and time, and optionally the last segment seq this device saw
 * from a device about to be cut by a new epoch (default: the highest seq
 * the remote lists under `segments/<deviceId>/`).
 */
export interface SpaceOpsDeps extends Deps {
  readonly lastSeqOf?: (deviceId: string) => Promise<number>;
}

/** What {@link keepSpaceKeys} did. */
export interface KeepKeysResult {
  /** The epoch this device started, or null. */
  readonly started: number | null;
  /** How many devices the current key was sealed to. */
  readonly shared: number;
}

/** Most times a certificate is decided again after another device of the person wrote the same version first. */
const MAX_CERT_ATTEMPTS = 16;

/** The devices must be well formed and include the acting one: a certificate without it would lock this device out. */
export function assertOwnDevices(me: SpaceActor, devices: OwnDevices): void {
  const bad = (why: string) => new KithError(ErrorCode.BadInput, `cannot certify the devices: ${why}`);
  const ids = new Set<string>();
  for (const d of devices) {
    if (!/^[0-9a-f]{16}$/.test(d.deviceId) || d.signPub.length !== 32 || d.boxPub.length !== 32) throw bad(`device ${String(d.deviceId)} is malformed`);
    if (ids.has(d.deviceId)) throw bad(`device ${d.deviceId} is listed twice`);
    ids.add(d.deviceId);
  }
  const self = devices.find((d) => d.deviceId === me.deviceId);
  if (!self || !bytesEqual(self.signPub, me.signPub) || !bytesEqual(self.boxPub, me.boxPub)) throw bad('this device is not among them with its own keys');
}

/** True when `a` and `b` list the same devices with the same keys. */
function sameDevices(a: readonly CertifiedDevice[], b: OwnDevices): boolean {
  if (a.length !== b.length) return false;
  const byId = new Map(b.map((d) => [d.deviceId, d]));
  return a.every((d) => {
    const o = byId.get(d.deviceId);
    return !!o && bytesEqual(o.signPub, d.signPub) && bytesEqual(o.boxPub, d.boxPub);
  });
}

/** The acting device is in its person's newest certificate (what sealing and starting epochs need). */
const certified = (state: SpaceState, me: SpaceActor): boolean => {
  const c = state.certs(me.person.personId);
  return !!c && c.version > 0 && !!c.deviceAt(me.deviceId, c.version);
};

/**
 * Whether this person may start the next epoch now: an admin, or a member
 * whose newest certificate is newer than the one the current epoch listed
 * (their first, if it listed none): the rule readers check (epochs.ts).
 */
function mayStartNow(state: SpaceState, personId: string): boolean {
  if (state.m.member(personId)?.role === 'admin') return true;
  const prev = state.epochs.current;
  if (!prev) return false;
  const listed = prev.members.find((x) => x.personId === personId)?.certVersion ?? 1;
  return (state.certs(personId)?.version ?? 0) > Math.max(1, listed);
}

/**
 * On a remote that signs devices in (a relay), which key the space's remote
 * uses: the person's identity key (signer `person:<personId>`: reading,
 * and writing the person's own certificates, before one lists this
 * device), or this device's key. A no-op on other remotes.
 */
export function signInToSpace(remote: Remote, spaceId: string, me: SpaceActor, as: 'person' | 'device'): void {
  lendDeviceKey(
    remote,
    as === 'person'
      ? deviceKeyOf(spaceId, `person:${me.person.personId}`, me.person.sign.seed, () => me.person.signPub)
      : deviceKeyOf(spaceId, me.deviceId, me.signSeed, () => me.signPub),
  );
}

/** True when the person's newest certificate this state knows lists this device with its key. */
function listsMe(state: SpaceState, me: SpaceActor): boolean {
  const c = state.certs(me.person.personId);
  const d = c?.deviceAt(me.deviceId, c.version);
  return !!d && bytesEqual(d.signPub, me.signPub);
}

/**
 * Founds a space on `remote` (empty, rooted at the new space): entry 1,
 * the founder's first device certificate listing `devices` (which must
 * include the acting device), and epoch 0 sealed to them.
 */
export async function createSharedSpace(
  remote: Remote,
  me: SpaceActor,
  devices: OwnDevices,
  deps: SpaceOpsDeps,
): Promise<{ spaceId: string; state: SpaceState }> {
  assertOwnDevices(me, devices);
  const nonce = deps.random(16);
  const spaceId = spaceIdOf(me.person.signPub, nonce);
  // No certificate lists this device before the founder writes one: found the space as the person.
  signInToSpace(remote, spaceId, me, 'person');
  await createSpace(remote, me.person, deps, nonce);
  const state = await new SpaceState(spaceId).refresh(remote);
  const { written } = await publishDeviceCert(remote, state.certs(me.person.personId)!, me.person, devices, deps.now());
  if (!written) throw new KithError(ErrorCode.RemoteUnavailable, `the remote did not keep the first device certificate of space ${spaceId}`);
  signInToSpace(remote, spaceId, me, 'device');
  await state.refresh(remote);
  await keepSpaceKeys(remote, state, me, deps);
  return { spaceId, state };
}

/**
 * Publishes a new version of the acting person's certificate when their
 * devices differ from the newest one (a paired or revoked device), then
 * keeps the keys (see {@link keepSpaceKeys}): the current key reaches new
 * devices, and a dropped device starts a new epoch (any member may, for
 * their own devices). True when a certificate was written.
 */
export async function certifyOwnDevices(remote: Remote, state: SpaceState, me: SpaceActor, devices: OwnDevices, deps: SpaceOpsDeps): Promise<boolean> {
  assertOwnDevices(me, devices);
  // A device no certificate lists yet (a joiner's, a newly paired one) reads and certifies as its person.
  const asPerson = !listsMe(state, me);
  if (asPerson) signInToSpace(remote, state.spaceId, me, 'person');
  let wrote = false;
  try {
    await state.refresh(remote);
    assertMember(state, me.person.personId);
    const certs = state.certs(me.person.personId)!;
    for (let attempt = 0; attempt < MAX_CERT_ATTEMPTS && !wrote; attempt++) {
      await certs.refresh(remote);
      if (certs.version > 0 && sameDevices(certs.at()!.devices, devices)) break;
      // Another device of the person may win the version: decide again on top of theirs.
      wrote = (await publishDeviceCert(remote, certs, me.person, devices, deps.now())).written;
    }
  } finally {
    if (asPerson) signInToSpace(remote, state.spaceId, me, 'device');
  }
  await keepSpaceKeys(remote, state, me, deps);
  return wrote;
}

/**
 * What every sync of a space runs after catching up: starts the epoch that
 * is due if this device may (an admin's, or the member's whose devices
 * changed), then seals the current key to certified devices of members
 * that lack it; an admin's device also deletes expired invites.
 */
export async function keepSpaceKeys(remote: Remote, state: SpaceState, me: SpaceActor, deps: SpaceOpsDeps): Promise<KeepKeysResult> {
  await state.refresh(remote);
  const personId = me.person.personId;
  assertMember(state, personId);
  if (!certified(state, me)) return { started: null, shared: 0 };
  let started: number | null = null;
  if (state.epochs.needed(state.m, state.certs) && mayStartNow(state, personId)) {
    const lastSeqOf = deps.lastSeqOf ?? ((deviceId: string) => listedLastSeq(remote, deviceId));
    try {
      started = (await startEpoch(remote, { m: state.m, epochs: state.epochs, certs: state.certs, actor: me, lastSeqOf }, deps)).epoch;
    } catch (e) {
      // Between the check and the start, another device changed what this one may do (a demotion, a newer certificate): not ours to start now.
      if (!KithError.is(e, ErrorCode.BadInput)) throw e;
    }
  }
  if (state.m.member(personId)!.role === 'admin') await sweepInvitesNow(remote, state, deps.now());
  return { started, shared: await shareKeysWithNewDevices(remote, state, me, deps) };
}

/** When each space's view last swept its invites: a listing per sync would cost a request on every sync for a rare clean-up. */
const lastSweep = new WeakMap<SpaceState, number>();
const SWEEP_EVERY_MS = 10 * 60_000;

/** An admin's device deletes expired invites, at most every {@link SWEEP_EVERY_MS} per view of the space. */
async function sweepInvitesNow(remote: Remote, state: SpaceState, now: number): Promise<void> {
  const last = lastSweep.get(state);
  if (last !== undefined && now >= last && now - last < SWEEP_EVERY_MS) return;
  lastSweep.set(state, now);
  try {
    await sweepInvites(remote, now);
  } catch (e) {
    // Housekeeping: a remote refusing the deletes (a relay older than the rule) must not stop the sync.
    if (!(e instanceof KithError)) throw e;
  }
}

/** Seals the current epoch's key (opened with this device's copy) to every certified device of a member that lacks it. */
export async function shareKeysWithNewDevices(remote: Remote, state: SpaceState, me: SpaceActor, deps: SpaceOpsDeps): Promise<number> {
  const current = await currentSpaceKey(remote, state, me);
  if (!current || !state.m.member(me.person.personId) || !certified(state, me)) return 0;
  const { m, epochs, certs } = state;
  // Every sync runs this: one listing settles the usual case (every device has the key) instead of one request per device.
  const entry = epochs.current!;
  const sealed = await sealedRecipients(remote, entry);
  const lacking = m.members().some((x) => {
    const c = certs(x.personId);
    return c?.at()?.devices.some((d) => !sealed.has(d.deviceId)) ?? false;
  });
  if (!lacking) return 0;
  return (await shareEpochKey(remote, { m, epochs, certs, epochKey: current.epochKey, actor: me }, deps)).length;
}

/** The current epoch's key as sealed to this device, or null while none is (the state is refreshed first). */
export async function currentSpaceKey(remote: Remote, state: SpaceState, me: SpaceActor): Promise<{ epoch: number; epochKey: Uint8Array } | null> {
  await state.refresh(remote);
  const entry = state.epochs.current;
  if (!entry) return null;
  const { m, epochs, certs } = state;
  const epochKey = await openSpaceEpochKey(remote, { m, epochs, certs, epoch: entry.epoch, deviceId: me.deviceId, boxSecret: me.boxSecret });
  return epochKey ? { epoch: entry.epoch, epochKey } : null;
}

/** Tells the user why a change cannot be made, before anything is written. */
function refuse(state: SpaceState, personId: string, intent: MembershipIntent): void {
  const why = state.m.refusal(personId, intent);
  // Someone already gave the person that role: what was asked holds.
  if (why === null || why === 'the person already has that role') return;
  if (why === 'only admins change membership') {
    throw new KithError(ErrorCode.Forbidden, `only admins of space ${state.spaceId} change its members`, {
      hint: 'ask an admin of the space',
      reason: 'not-admin',
    });
  }
  if (why === 'the person is not a member') throw new KithError(ErrorCode.NotFound, `${intentTarget(intent)} is not a member of space ${state.spaceId}`);
  throw new KithError(ErrorCode.BadInput, `cannot change the members of space ${state.spaceId}: ${why}`);
}

const intentTarget = (intent: MembershipIntent): string => (intent.kind === 'role' || intent.kind === 'remove' ? intent.personId : 'that person');

/**
 * Catches up, refuses what the chain would refuse (with a code the user
 * can act on), and appends. A change another admin made moot meanwhile
 * is reported the same way.
 */
async function changeMembership(remote: Remote, state: SpaceState, me: SpaceActor, intent: MembershipIntent, deps: SpaceOpsDeps): Promise<void> {
  await state.refresh(remote);
  assertMember(state, me.person.personId);
  refuse(state, me.person.personId, intent);
  const { seq } = await appendMembership(remote, state.m, me.person, intent, deps);
  if (seq === null) {
    assertMember(state, me.person.personId);
    refuse(state, me.person.personId, intent);
  }
}

/** Gives a member another role (admins only). Giving the role they have is a no-op. */
export async function setMemberRole(remote: Remote, state: SpaceState, me: SpaceActor, personId: string, role: Role, deps: SpaceOpsDeps): Promise<void> {
  await changeMembership(remote, state, me, { kind: 'role', personId, role }, deps);
}

/** Removes a member (admins only), then starts the epoch that cuts their devices. */
export async function removeMember(remote: Remote, state: SpaceState, me: SpaceActor, personId: string, deps: SpaceOpsDeps): Promise<void> {
  await changeMembership(remote, state, me, { kind: 'remove', personId }, deps);
  await keepSpaceKeys(remote, state, me, deps);
}

/**
 * Leaves the space. The leaver cannot start the epoch that cuts them (they
 * are no member any more): a remaining admin's next sync does
 * ({@link keepSpaceKeys}).
 */
export async function leaveSpace(remote: Remote, state: SpaceState, me: SpaceActor, deps: SpaceOpsDeps): Promise<void> {
  await changeMembership(remote, state, me, { kind: 'leave' }, deps);
}
