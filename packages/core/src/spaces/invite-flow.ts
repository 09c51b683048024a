/**
 * @module spaces/invite-flow
 * The invite as two waiting flows over the space's remote, built on the
 * step functions of spaces/invite.ts: the admin offers, waits for an
 * answer, asks the user to compare the strings, adds the person and
 * closes; the invitee answers, waits for the decision, verifies the chain
 * admits them, certifies their devices and waits for the key.
 */
import { ErrorCode, KithError } from '../base/errors.js';
import type { Remote } from '../ports/remote.js';
import type { Role } from './membership-entry.js';
import type { OwnDevices, SpaceActor, SpaceOpsDeps } from './space-ops.js';
import type { SpaceState } from './space-state.js';

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
}

/**
 * The admin's side: offer → wait for the answer → confirm → add → done;
 * then, while the code's time lasts, wait for the invitee's first
 * certificate and seal the current key to their devices (every member's
 * sync does it too, should this stop early).
 */
export async function adminInvite(remote: Remote, state: SpaceState, me: SpaceActor, o: AdminInviteOptions, deps: SpaceOpsDeps): Promise<AdminInviteResult> {
  void [remote, state, me, o, deps];
  throw new KithError(ErrorCode.Internal, 'not wired yet');
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
  void [remote, code, me, devices, name, o, deps];
  throw new KithError(ErrorCode.Internal, 'not wired yet');
}
