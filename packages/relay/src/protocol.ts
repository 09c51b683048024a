/**
 * @module protocol
 * What the relay's client and server agree on: paths, headers, the
 * batch-get framing and the push messages. Isomorphic (no Node APIs), so
 * the client runs in a browser too.
 *
 * The routes, headers, push messages, error statuses and limits are
 * documented once, in docs/RELAY.md; this module is their code.
 */
import { assertRemoteKey, ErrorCode, KithError } from '@kith/core/adapter';

/** Version prefix of every vault route. */
export const API_PREFIX = '/v1/vaults';
/** Most entries in one listing page or one batch-get. */
export const MAX_PAGE = 1000;
/** Largest object whose bytes a listing with `bodies=1` carries (heads are a few hundred bytes). */
export const LIST_BODY_MAX = 4096;
/** Header that names the writer's push connection, so it is not told of its own writes. */
export const CONNECTION_HEADER = 'x-kith-connection';
/** Header with an object's size on HEAD. */
export const SIZE_HEADER = 'x-kith-size';
/** Header with the operator's invite token, wanted by a relay that gates vault creation. */
export const INVITE_HEADER = 'x-kith-invite';
/** A space vault's first object: its founding membership entry (FORMAT.md "Membership entry"), which creates it on a relay. */
export const FIRST_MEMBERSHIP_KEY = 'members/000000000001';
/** The watch socket's sub-protocol, which the relay selects; the token travels as a second one. */
export const WS_PROTOCOL = 'kith.v1';
/** Prefix of the sub-protocol that carries the bearer token (browsers cannot set headers on a WebSocket). */
export const BEARER_PROTOCOL_PREFIX = 'kith.bearer.';

const VAULT_RE = /^[A-Za-z0-9._-]{1,128}$/;

/** Throws KITH_BAD_NAME unless `vault` is a valid relay vault name. */
export function assertVaultName(vault: string): void {
  if (!VAULT_RE.test(vault) || vault === '.' || vault === '..') {
    throw new KithError(ErrorCode.BadName, `invalid relay vault name ${JSON.stringify(vault)}`, {
      hint: 'use letters, digits, ".", "_" and "-" (at most 128)',
    });
  }
}

/** The path of one object (keys are validated first, so no segment needs escaping). */
export function objectPath(vault: string, key: string): string {
  assertRemoteKey(key);
  return `${API_PREFIX}/${vault}/objects/${key}`;
}

/** Largest object whose bytes a `changed` message carries to a socket that asked for bodies (heads are a few hundred bytes). */
export const PUSH_BODY_MAX = LIST_BODY_MAX;

/**
 * A message the relay pushes over the watch socket.
 * - `hello`: sent once on connect; `connection` is this socket's id, to be
 *   sent back in {@link CONNECTION_HEADER} on writes.
 * - `watching`: the answer to a {@link WatchRequest}, once the relay
 *   tells this socket of changes under `prefixes` (what it kept of them):
 *   a listing started after it cannot miss a change without a `changed`.
 *   `bodies` is set when the request asked for bodies and the relay sends
 *   them (a relay older than bodies leaves it out).
 * - `changed`: `key` was written or deleted by another client. To a socket
 *   whose `watching` said `bodies`, a write of at most
 *   {@link PUSH_BODY_MAX} bytes comes with the object's `etag` (as a listing
 *   names it) and its bytes (`body`, base64url); a change without them
 *   (a delete, a larger object, or one the relay would not vouch for) is
 *   read or listed as before.
 * - `batch`: several `changed` messages for this socket in one frame, in
 *   the order they happened; only to a socket whose `watching` said `batch`
 *   (a relay older than batches sends each alone). `watching` names the
 *   `lazy` prefixes it kept: their notices wait for the socket's next
 *   other notice (at most {@link PUSH_LAZY_MS}) and come in its frame.
 */
export type PushMessage =
  | { readonly type: 'hello'; readonly connection: string }
  | { readonly type: 'watching'; readonly prefixes: readonly string[]; readonly bodies?: true; readonly batch?: true; readonly lazy?: readonly string[] }
  | ChangedMessage
  | { readonly type: 'batch'; readonly changes: readonly ChangedMessage[] };

/** One change told over the watch socket (see {@link PushMessage}). */
export interface ChangedMessage {
  readonly type: 'changed';
  readonly key: string;
  readonly etag?: string;
  readonly body?: string;
}

/**
 * How long (ms) the relay holds a batching socket's notices (those not
 * under its lazy prefixes) to send them as one frame; 0, the default, sends
 * each at once, with the lazy notices queued before it. (Under the load
 * bench a device's notices come further apart than any window short enough
 * to keep the delivery p99.)
 */
export const PUSH_BATCH_MS = 0;

/**
 * Longest a notice under a `lazy` prefix waits for another notice to share
 * its frame. A writer puts its segments just before the head that names
 * them, and a told device needs their bytes only once the head comes.
 */
export const PUSH_LAZY_MS = 1000;

/**
 * A message a client sends over the watch socket: which prefixes it wants
 * news of, whether small objects' bytes should come with the news,
 * whether it reads `batch` frames and which prefixes' news may wait for
 * other news (a relay older than any of these ignores the field, and its
 * `watching` says nothing of it).
 */
export interface WatchRequest {
  readonly type: 'watch';
  readonly prefixes: readonly string[];
  readonly bodies?: boolean;
  readonly batch?: boolean;
  /** Of `prefixes`, those whose notices may wait for the next other notice (only with `batch`). */
  readonly lazy?: readonly string[];
}

const text = new TextEncoder();
const untext = new TextDecoder('utf-8', { fatal: true });

/**
 * Frames a batch-get answer: for each key asked, in order, a u32 length of
 * the key, the key, then a u32 flag (0 = missing, 1 = present) and, when
 * present, a u32 length and the bytes. Big-endian. Objects are at most the
 * request limit (< 4 GiB).
 */
export function encodeBatch(entries: readonly (readonly [string, Uint8Array | null])[]): Uint8Array {
  const keys = entries.map(([k]) => text.encode(k));
  let size = 0;
  entries.forEach(([, v], i) => (size += 8 + keys[i]!.length + (v ? 4 + v.length : 0)));
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  entries.forEach(([, v], i) => {
    const k = keys[i]!;
    view.setUint32(at, k.length);
    out.set(k, at + 4);
    at += 4 + k.length;
    view.setUint32(at, v ? 1 : 0);
    at += 4;
    if (v) {
      view.setUint32(at, v.length);
      out.set(v, at + 4);
      at += 4 + v.length;
    }
  });
  return out;
}

/** Reads {@link encodeBatch} framing; throws KITH_REMOTE_UNAVAILABLE on a torn or malformed body. */
export function decodeBatch(body: Uint8Array): Map<string, Uint8Array | null> {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const out = new Map<string, Uint8Array | null>();
  let at = 0;
  const need = (n: number): void => {
    if (at + n > body.length) throw new KithError(ErrorCode.RemoteUnavailable, 'relay batch-get answer was cut short');
  };
  while (at < body.length) {
    need(4);
    const kl = view.getUint32(at);
    need(4 + kl + 4);
    const key = untext.decode(body.subarray(at + 4, at + 4 + kl));
    at += 4 + kl;
    const present = view.getUint32(at);
    at += 4;
    if (present === 0) {
      out.set(key, null);
      continue;
    }
    need(4);
    const vl = view.getUint32(at);
    need(4 + vl);
    out.set(key, body.slice(at + 4, at + 4 + vl));
    at += 4 + vl;
  }
  return out;
}

/** `POST .../auth/challenge` body: who will sign (a deviceId, `recovery`, `password`, or in a space `person:<personId>`). */
export interface ChallengeRequest {
  readonly signer: string;
}
/** The challenge to sign, base64url ({@link decodeChallenge}). */
export interface ChallengeAnswer {
  readonly challenge: string;
}
/**
 * `POST .../auth/token` body: the challenge as received and the signature
 * over it (base64url both). A person signer also sends its `signPub`
 * (base64url): the founder of a space proves the key its first membership
 * entry will name before that entry exists.
 */
export interface TokenRequest {
  readonly challenge: string;
  readonly signature: string;
  readonly signPub?: string;
}
/** A bearer token, when it stops working (the relay's clock, ms since the epoch) and how long from now (no clock to trust). */
export interface TokenAnswer {
  readonly token: string;
  readonly expiresAt: number;
  readonly expiresInMs: number;
}

/**
 * One kind of error answer: a Kith code and the HTTP status it travels
 * with (the body is JSON `{ code, message, hint? }`).
 * - `byDefault`: the status a KithError of this code gets when the server
 *   code that threw it named none (any other code then gets 500).
 * - `fallback`: what a client reads this status as when the body names no
 *   code that goes with it (a proxy's answer, an older relay).
 */
export interface RelayErrorStatus {
  readonly code: ErrorCode;
  readonly status: number;
  readonly when: string;
  readonly byDefault?: true;
  readonly fallback?: true;
}

/**
 * Every error answer the relay gives; docs/RELAY.md shows this table. The
 * server refuses to answer with a pair not here, and a client reads every
 * pair here back as its code (protocol tests check both).
 */
export const RELAY_ERROR_STATUSES: readonly RelayErrorStatus[] = [
  { code: ErrorCode.BadInput, status: 400, when: 'a malformed request (query, JSON body, challenge)', byDefault: true },
  { code: ErrorCode.BadName, status: 400, when: 'a bad vault name, object key or prefix', byDefault: true },
  { code: ErrorCode.IntegrityCorrupt, status: 400, when: 'a vault header that does not decode' },
  {
    code: ErrorCode.RemoteAuth,
    status: 401,
    when: 'no token, or a token or challenge signature that is not (or no longer) valid: sign in again',
    byDefault: true,
    fallback: true,
  },
  {
    code: ErrorCode.RemoteAuth,
    status: 403,
    when: 'signed in, but not allowed this: a key not in the registry (or not a space member\u2019s), the append-only header, registry and space chains, a vault created without the invite token, a pairing or invite slot not offered, a person signer\u2019s write other than its certificate or a membership entry',
    fallback: true,
  },
  {
    code: ErrorCode.Revoked,
    status: 403,
    when: 'the signer was revoked from the vault (in a space: the device is not in its person\u2019s newest certificate)',
    byDefault: true,
  },
  { code: ErrorCode.Removed, status: 403, when: 'the signer\u2019s person was removed from the space, or left it', byDefault: true },
  { code: ErrorCode.Forbidden, status: 403, when: 'a space member\u2019s write its role does not allow (a reader\u2019s segment)', byDefault: true },
  { code: ErrorCode.NotFound, status: 404, when: 'no such object (GET) or route' },
  { code: ErrorCode.RemoteEmpty, status: 404, when: 'no vault under this name (auth challenge)', byDefault: true },
  { code: ErrorCode.RemoteInUse, status: 409, when: 'the name holds objects but no vault header' },
  { code: ErrorCode.RemoteInUse, status: 412, when: 'put-if-absent (`If-None-Match: *`) found the key taken' },
  { code: ErrorCode.TooLarge, status: 413, when: 'a body over the limit (80 MiB by default; 16 KiB without a token)', byDefault: true },
  ...([ErrorCode.IntegrityCorrupt, ErrorCode.IntegrityUnknownSigner, ErrorCode.IntegrityRollback, ErrorCode.IntegrityChain] as const).map((code) => ({
    code,
    status: 422,
    when: 'a registry entry, or a space\u2019s membership entry, certificate, epoch or segment header, that does not verify against the chains before it',
  })),
  { code: ErrorCode.RateLimited, status: 429, when: 'too many requests from this signer or address (`retry-after` says when to come back)' },
  { code: ErrorCode.Internal, status: 500, when: 'anything else (the relay logs it)' },
  { code: ErrorCode.QuotaExceeded, status: 507, when: 'the vault\u2019s storage quota is full (waiting does not help)' },
];

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

/** True when the relay may answer `code` with `status` ({@link RELAY_ERROR_STATUSES}). */
export function isRelayErrorStatus(code: string, status: number): boolean {
  return RELAY_ERROR_STATUSES.some((r) => r.code === code && r.status === status);
}

/** The status the server answers a KithError of `code` with when nothing named one: its `byDefault` row, else 500. */
export function defaultRelayStatus(code: string): number {
  return RELAY_ERROR_STATUSES.find((r) => r.code === code && r.byDefault)?.status ?? 500;
}

/**
 * The code a client reads a final answer as: the body's code where the
 * table pairs it with this status, else the status's `fallback` row, else
 * any Kith code the body names, else KITH_REMOTE_UNAVAILABLE.
 */
export function relayAnswerCode(status: number, bodyCode: unknown): ErrorCode {
  if (typeof bodyCode === 'string' && isRelayErrorStatus(bodyCode, status)) return bodyCode as ErrorCode;
  const fallback = RELAY_ERROR_STATUSES.find((r) => r.status === status && r.fallback);
  if (fallback) return fallback.code;
  return typeof bodyCode === 'string' && KNOWN_CODES.has(bodyCode) ? (bodyCode as ErrorCode) : ErrorCode.RemoteUnavailable;
}

/** Version byte of the relay's auth challenge (docs/FORMAT.md "Remote authentication"). */
export const CHALLENGE_VERSION = 1;
/** Random bytes in a challenge. */
export const CHALLENGE_NONCE_BYTES = 16;
/** The relay's tag (HMAC-SHA256) that ends a challenge; opaque to clients. */
export const CHALLENGE_TAG_BYTES = 32;

/** What a challenge says; the device checks `vault` and `signer` before it signs. */
export interface ChallengeFields {
  readonly vault: string;
  readonly signer: string;
  /** ms since the epoch, the relay's clock. */
  readonly expiresAt: number;
  readonly nonce: Uint8Array;
}

const SIGNER_RE = /^(?:[0-9a-f]{16}|recovery|password|person:[0-9a-f]{32})$/;

/** The prefix of a person signer: a space member signing in with their identity key (`person:<personId>`). */
export const PERSON_SIGNER_PREFIX = 'person:';

/** The personId a `person:<personId>` signer names, or undefined for any other signer. */
export function personOfSigner(signer: string): string | undefined {
  return signer.startsWith(PERSON_SIGNER_PREFIX) ? signer.slice(PERSON_SIGNER_PREFIX.length) : undefined;
}

/** Throws KITH_BAD_INPUT unless `signer` names a signer: a deviceId, `recovery`, `password` (a registry's) or `person:<personId>` (a space's). */
export function assertSigner(signer: unknown): asserts signer is string {
  if (typeof signer !== 'string' || !SIGNER_RE.test(signer))
    throw new KithError(ErrorCode.BadInput, 'signer must be a device id (16 hex), "recovery", "password" or "person:<personId>"');
}

/**
 * The challenge's bytes before the relay's tag: version 0x01 ‖ text8 vault
 * name ‖ text8 signer ‖ u64 expiresAt ‖ nonce (16). The relay appends a
 * 32-byte tag; the device signs all of it through `RemoteDeviceKey.sign`.
 */
export function challengeBody(f: ChallengeFields): Uint8Array {
  assertVaultName(f.vault);
  assertSigner(f.signer);
  if (f.nonce.length !== CHALLENGE_NONCE_BYTES) throw new KithError(ErrorCode.Internal, 'challenge nonce must be 16 bytes');
  const vault = text.encode(f.vault);
  const signer = text.encode(f.signer);
  const out = new Uint8Array(1 + 1 + vault.length + 1 + signer.length + 8 + CHALLENGE_NONCE_BYTES);
  const view = new DataView(out.buffer);
  let at = 0;
  out[at++] = CHALLENGE_VERSION;
  out[at++] = vault.length;
  out.set(vault, at);
  at += vault.length;
  out[at++] = signer.length;
  out.set(signer, at);
  at += signer.length;
  view.setBigUint64(at, BigInt(f.expiresAt));
  out.set(f.nonce, at + 8);
  return out;
}

/** Reads a challenge (body and tag); throws KITH_BAD_INPUT on anything malformed or of another version. */
export function decodeChallenge(bytes: Uint8Array): ChallengeFields & { readonly body: Uint8Array; readonly tag: Uint8Array } {
  const bad = (why: string): KithError => new KithError(ErrorCode.BadInput, `malformed auth challenge (${why})`);
  if (bytes.length < 2) throw bad('too short');
  if (bytes[0] !== CHALLENGE_VERSION) throw bad(`version ${bytes[0]}`);
  const vl = bytes[1]!;
  const sl = bytes[2 + vl];
  if (sl === undefined) throw bad('too short');
  const size = 1 + 1 + vl + 1 + sl + 8 + CHALLENGE_NONCE_BYTES + CHALLENGE_TAG_BYTES;
  if (bytes.length !== size) throw bad(`${bytes.length} bytes instead of ${size}`);
  let vault: string;
  let signer: string;
  try {
    vault = untext.decode(bytes.subarray(2, 2 + vl));
    signer = untext.decode(bytes.subarray(3 + vl, 3 + vl + sl));
    assertVaultName(vault);
    assertSigner(signer);
  } catch {
    throw bad('vault or signer');
  }
  const at = 3 + vl + sl;
  const expiresAt = Number(new DataView(bytes.buffer, bytes.byteOffset + at, 8).getBigUint64(0));
  if (!Number.isSafeInteger(expiresAt)) throw bad('expiry');
  const nonce = bytes.slice(at + 8, at + 8 + CHALLENGE_NONCE_BYTES);
  const body = bytes.slice(0, size - CHALLENGE_TAG_BYTES);
  return { vault, signer, expiresAt, nonce, body, tag: bytes.slice(size - CHALLENGE_TAG_BYTES) };
}
