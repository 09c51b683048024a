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
import type { Remote } from '../ports/remote.js';
import type { CertifiedDevice } from './device-cert.js';
import type { Role } from './membership-entry.js';
import type { SpaceState } from './space-state.js';
import type { SpaceDevice } from './space-segments.js';

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

const notWired = (): never => {
  throw new KithError(ErrorCode.Internal, 'not wired yet');
};

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
  void [remote, me, devices, deps];
  return notWired();
}

/**
 * Publishes a new version of the acting person's certificate when their
 * devices differ from the newest one (a paired or revoked device), then
 * keeps the keys (see {@link keepSpaceKeys}): the current key reaches new
 * devices, and a dropped device starts a new epoch (any member may, for
 * their own devices). True when a certificate was written.
 */
export async function certifyOwnDevices(remote: Remote, state: SpaceState, me: SpaceActor, devices: OwnDevices, deps: SpaceOpsDeps): Promise<boolean> {
  void [remote, state, me, devices, deps];
  return notWired();
}

/**
 * What every sync of a space runs after catching up: starts the epoch that
 * is due if this device may (an admin's, or the member's whose devices
 * changed), then seals the current key to certified devices of members
 * that lack it.
 */
export async function keepSpaceKeys(remote: Remote, state: SpaceState, me: SpaceActor, deps: SpaceOpsDeps): Promise<KeepKeysResult> {
  void [remote, state, me, deps];
  return notWired();
}

/** Seals the current epoch's key (opened with this device's copy) to every certified device of a member that lacks it. */
export async function shareKeysWithNewDevices(remote: Remote, state: SpaceState, me: SpaceActor, deps: SpaceOpsDeps): Promise<number> {
  void [remote, state, me, deps];
  return notWired();
}

/** The current epoch's key as sealed to this device, or null while none is (the state is refreshed first). */
export async function currentSpaceKey(remote: Remote, state: SpaceState, me: SpaceActor): Promise<{ epoch: number; epochKey: Uint8Array } | null> {
  void [remote, state, me];
  return notWired();
}

/** Gives a member another role (admins only). Giving the role they have is a no-op. */
export async function setMemberRole(remote: Remote, state: SpaceState, me: SpaceActor, personId: string, role: Role, deps: SpaceOpsDeps): Promise<void> {
  void [remote, state, me, personId, role, deps];
  return notWired();
}

/** Removes a member (admins only), then starts the epoch that cuts their devices. */
export async function removeMember(remote: Remote, state: SpaceState, me: SpaceActor, personId: string, deps: SpaceOpsDeps): Promise<void> {
  void [remote, state, me, personId, deps];
  return notWired();
}

/**
 * Leaves the space. The leaver cannot start the epoch that cuts them (they
 * are no member any more): a remaining admin's next sync does
 * ({@link keepSpaceKeys}).
 */
export async function leaveSpace(remote: Remote, state: SpaceState, me: SpaceActor, deps: SpaceOpsDeps): Promise<void> {
  void [remote, state, me, deps];
  return notWired();
}
