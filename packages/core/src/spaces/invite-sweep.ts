/**
 * @module spaces/invite-sweep
 * Invites' housekeeping under a space's root: deleting an invite's objects,
 * reading the plain expiry beside them, and the sweep an admin's device runs
 * on each sync (docs/FORMAT.md "Invite").
 */
import type { Remote } from '../ports/remote.js';
import { INVITE_EXPIRES_BYTES, INVITE_SWEEP_GRACE_MS, INVITES_PREFIX, inviteExpiresKey, inviteKey } from './invite.js';

/**
 * Deletes every object of an invite, its `expires` last: a stop half way
 * leaves what the next sweep still dates.
 */
export async function removeInvite(remote: Remote, inviteId: string): Promise<void> {
  for (const m of ['offer', 'answer', 'done'] as const) await remote.delete(inviteKey(inviteId, m));
  await remote.delete(inviteExpiresKey(inviteId));
}

/** The expiry an `expires` object holds, or undefined when it is not one (wrong size). */
export function decodeInviteExpires(bytes: Uint8Array): number | undefined {
  if (bytes.length !== INVITE_EXPIRES_BYTES) return undefined;
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0);
  return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : undefined;
}

/** The invites under a space's root, by id, each with the names of the objects it holds. */
export async function listInvites(remote: Remote): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  for (const o of await remote.list(INVITES_PREFIX)) {
    const m = /^invites\/([0-9a-f]{12})\/([a-z]+)$/.exec(o.key);
    if (!m) continue;
    let names = out.get(m[1]!);
    if (!names) out.set(m[1]!, (names = new Set()));
    names.add(m[2]!);
  }
  return out;
}

/**
 * What an admin's device runs on each sync of a space: deletes the objects
 * of every invite whose `expires` passed more than
 * {@link INVITE_SWEEP_GRACE_MS} ago (finished invites whose admin stopped
 * before cleaning up, and offers nobody answered). An invite with no
 * readable `expires` (an older client's) is left alone: nothing dates it.
 * Returns how many invites it removed.
 */
export async function sweepInvites(remote: Remote, now: number): Promise<number> {
  let removed = 0;
  for (const [inviteId, names] of await listInvites(remote)) {
    if (!names.has('expires')) continue;
    const bytes = await remote.get(inviteExpiresKey(inviteId));
    const expiresAt = bytes ? decodeInviteExpires(bytes) : undefined;
    if (expiresAt === undefined || now <= expiresAt + INVITE_SWEEP_GRACE_MS) continue;
    await removeInvite(remote, inviteId);
    removed++;
  }
  return removed;
}
