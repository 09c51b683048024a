/**
 * @module vault/spaces/space-types
 * The public shapes of `vault.spaces` and `vault.space(...)` (the contract
 * the CLI maps one to one: `kith space …`).
 */
import type { Role } from '../../spaces/roles.js';
export type { Role };

/** One space this person joined, as `vault.spaces.list()` shows it. */
export interface SpaceInfo {
  readonly spaceId: string;
  readonly name: string;
  /** This person's role in the space. */
  readonly role: Role;
  /** Current members. */
  readonly members: number;
  /** This device keeps the space in sync (a per-device choice, default on). */
  readonly synced: boolean;
}

/** One current member of a space. */
export interface SpaceMember {
  readonly personId: string;
  readonly name: string;
  readonly role: Role;
  /** Devices in the member's newest certificate. */
  readonly devices: number;
}

/** Options of `vault.spaces.invite`. */
export interface SpaceInviteOptions {
  /** The invitee's role (default `writer`). */
  readonly role?: Role;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly pollMs?: number;
  /** Called once with the code to hand over (it carries the space's remote URL after an `@`). */
  onCode(code: string): void;
  /** Shows the short authentication string and who answered; resolves true to admit them. */
  confirm(sas: string, who: { readonly personId: string; readonly name: string }): Promise<boolean>;
}

/** Who an invite admitted. */
export interface SpaceInvited {
  readonly personId: string;
  readonly name: string;
  readonly role: Role;
  readonly sas: string;
}

/** Options of `vault.spaces.join`. */
export interface JoinSpaceOptions {
  /** The name the inviter and the other members see for this person (default: this device's name). */
  readonly name?: string;
  /** Called with the short authentication string, to compare with the inviter's. */
  readonly onSas?: (sas: string) => void;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly pollMs?: number;
}

/** The space a code admitted this person to. */
export interface SpaceJoined {
  readonly spaceId: string;
  readonly name: string;
  readonly role: Role;
  readonly sas: string;
}
