/**
 * @module server/auth/access
 * What a request without a token may do. A device needs a few routes
 * before it is in the registry: creating a vault (the header), reading the
 * header and registry (they say which key to prove), the pairing mailbox
 * of a device that joins, and a space's invite mailbox for a person who
 * joins. Everything else wants a token.
 */
import { ErrorCode, KithError } from '@kith/core/adapter';
import { isRelayErrorStatus } from '@kith/relay/protocol';

/** Largest body a request without a token may send (a header is 163 bytes, a pairing `join` well under 1 KiB). */
export const ANONYMOUS_BODY_LIMIT = 16 * 1024;

/** `pairing/<12 hex>/<message>`: one pairing mailbox (FORMAT.md "Pairing"). */
const PAIRING_RE = /^pairing\/[0-9a-f]{12}\/(offer|join|done)$/;
/** `invites/<12 hex>/<message>`: one invite mailbox of a space (FORMAT.md "Invite"); open only on a space vault (relay-auth.ts checks). */
const INVITE_RE = /^invites\/[0-9a-f]{12}\/(offer|answer|done)$/;

/** The message of an invite key (`offer`, `answer`, `done`), or undefined for any other key. */
export function inviteMessage(key: string): string | undefined {
  return INVITE_RE.exec(key)?.[1];
}

/** The kinds of vault route. */
export type RouteKind = 'object' | 'list' | 'batch' | 'watch' | 'auth';

/** The message of a pairing key (`offer`, `join`, `done`), or undefined for any other key. */
export function pairingMessage(key: string): string | undefined {
  return PAIRING_RE.exec(key)?.[1];
}

/** True when a request without a token may make this call (its body is checked later by the write rules). */
export function openWithoutToken(kind: RouteKind, method: string, key = '', prefix = ''): boolean {
  switch (kind) {
    case 'auth':
      return true;
    case 'list':
      return prefix.startsWith('registry/');
    case 'object': {
      const pairing = pairingMessage(key);
      const invite = inviteMessage(key);
      if (method === 'GET' || method === 'HEAD') return key === 'vault' || key.startsWith('registry/') || pairing !== undefined || invite !== undefined;
      if (method === 'PUT') return key === 'vault' || pairing === 'join' || invite === 'answer';
      if (method === 'DELETE') return pairing === 'join' || pairing === 'done';
      return false;
    }
    default:
      return false;
  }
}

/** A refusal with its HTTP status (and, for 429, when to come back); the pair must be one of the protocol's `RELAY_ERROR_STATUSES`. */
export class RelayError extends KithError {
  readonly status: number;
  readonly retryAfterMs: number | undefined;

  constructor(status: number, code: ErrorCode, message: string, o: { hint?: string; retryAfterMs?: number } = {}) {
    // A pair clients were not told of is a bug here, not an answer to send.
    if (!isRelayErrorStatus(code, status)) throw new KithError(ErrorCode.Internal, `relay answer ${status} ${code} is not in the protocol's status table`);
    super(code, message, o.hint === undefined ? {} : { hint: o.hint });
    this.status = status;
    this.retryAfterMs = o.retryAfterMs;
  }
}
