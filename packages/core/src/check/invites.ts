/**
 * @module check/invites
 * Invite objects (`invites/<inviteId>/offer|answer|done|expires`, at the
 * remote's root or under a space's root; FORMAT.md "Invite"). The messages
 * are sealed under the one-time code, which no device keeps, so a check
 * cannot open them: it checks their names (the layout), each size against
 * what a sealed message of that kind can be, and which remain. An offer
 * beside a `done` is one a close left behind (no one can answer it any
 * more: unreferenced). The `expires` object dates the invite: one whose
 * time passed more than the sweep's grace ago is stale (unreferenced; the
 * next sync of an admin's device deletes it). A finished invite is deleted
 * by its admin's device, so nothing of it is left to report.
 */
import { ErrorCode } from '../base/errors.js';
import { INVITE_EXPIRES_BYTES, INVITE_SWEEP_GRACE_MS } from '../spaces/invite.js';
import { decodeInviteExpires } from '../spaces/invite-sweep.js';
import type { CheckRun } from './run.js';

/** A sealed message: 12-byte nonce, the JSON (at least `{}`), a 16-byte tag. */
const MIN_MESSAGE = 12 + 2 + 16;
/** Far above the largest message (an answer with a 200-byte name, each byte escaped in JSON, is under 2 KiB). */
export const MAX_INVITE_MESSAGE = 16 * 1024;
const SWEPT = 'an expired invite: the next sync of an admin’s device of the space deletes it; harmless, and safe to delete';

export async function checkInvites(run: CheckRun): Promise<void> {
  const { log, layout } = run;
  if (layout.invites.size === 0) return;
  log.counts.invites = 0;
  const now = run.ctx.deps.now();
  for (const folder of [...layout.invites.keys()].sort()) {
    const objects = layout.invites.get(folder)!;
    const inviteId = folder.slice(folder.lastIndexOf('/') + 1);
    const dated = objects.get('expires');
    let stale = false;
    if (dated) {
      if (dated.size !== INVITE_EXPIRES_BYTES) {
        log.add(
          'damaged',
          dated.key,
          ErrorCode.IntegrityCorrupt,
          `invite expiry of ${dated.size} bytes: one is a u64 time`,
          'delete the invite and invite again',
        );
      } else {
        const bytes = await run.read(dated.key);
        const expiresAt = bytes ? decodeInviteExpires(bytes) : undefined;
        stale = expiresAt !== undefined && now > expiresAt + INVITE_SWEEP_GRACE_MS;
        if (stale) {
          log.add('unreferenced', dated.key, ErrorCode.UnreferencedObject, `invite ${inviteId} expired at ${new Date(expiresAt!).toISOString()}`, SWEPT);
        } else log.counts.invites++;
      }
    }
    for (const [message, info] of objects) {
      if (message === 'expires') continue;
      if (info.size < MIN_MESSAGE || info.size > MAX_INVITE_MESSAGE) {
        log.add(
          'damaged',
          info.key,
          ErrorCode.IntegrityCorrupt,
          `invite ${message} message of ${info.size} bytes: a sealed one is ${MIN_MESSAGE} to ${MAX_INVITE_MESSAGE}`,
          'the invite cannot complete; delete it and invite again',
        );
      } else if (stale) {
        log.add('unreferenced', info.key, ErrorCode.UnreferencedObject, `the ${message} of invite ${inviteId}, which expired`, SWEPT);
      } else if (message === 'offer' && objects.has('done')) {
        log.add(
          'unreferenced',
          info.key,
          ErrorCode.UnreferencedObject,
          `the offer of invite ${inviteId}, which was closed: no one can answer it`,
          'left by an interrupted close; harmless, and safe to delete',
        );
      } else log.counts.invites++;
    }
  }
}
