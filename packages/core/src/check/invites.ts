/**
 * @module check/invites
 * Invite messages (`invites/<inviteId>/offer|answer|done`, at the
 * remote's root or under a space's root; FORMAT.md "Invite"). They are sealed under the one-time code, which no device
 * keeps, and listings carry no dates, so a check cannot open them nor
 * tell an expired invite from a pending one. It checks what it can: the
 * names (the layout), each size against what a sealed message of that
 * kind can be, and which messages remain: an offer beside a `done` is one
 * a close left behind when it stopped between writing the done and
 * deleting the offer; no one can answer it any more (unreferenced). The
 * answer and the done of a closed invite stay until deleted by hand: the
 * invitee's device may not have read the outcome yet.
 */
import { ErrorCode } from '../base/errors.js';
import type { CheckRun } from './run.js';

/** A sealed message: 12-byte nonce, the JSON (at least `{}`), a 16-byte tag. */
const MIN_MESSAGE = 12 + 2 + 16;
/** Far above the largest message (an answer with a 200-byte name, each byte escaped in JSON, is under 2 KiB). */
export const MAX_INVITE_MESSAGE = 16 * 1024;

export function checkInvites(run: CheckRun): void {
  const { log, layout } = run;
  if (layout.invites.size === 0) return;
  log.counts.invites = 0;
  for (const folder of [...layout.invites.keys()].sort()) {
    const messages = layout.invites.get(folder)!;
    const inviteId = folder.slice(folder.lastIndexOf('/') + 1);
    for (const [message, info] of messages) {
      if (info.size < MIN_MESSAGE || info.size > MAX_INVITE_MESSAGE) {
        log.add(
          'damaged',
          info.key,
          ErrorCode.IntegrityCorrupt,
          `invite ${message} message of ${info.size} bytes: a sealed one is ${MIN_MESSAGE} to ${MAX_INVITE_MESSAGE}`,
          'the invite cannot complete; delete it and invite again',
        );
      } else if (message === 'offer' && messages.has('done')) {
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
