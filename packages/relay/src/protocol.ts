/**
 * @module protocol
 * What the relay's client and server agree on: paths, headers, the
 * batch-get framing and the push messages. Isomorphic (no Node APIs), so
 * the client runs in a browser too.
 *
 * HTTP API, per vault (`:vault` is a name of `[A-Za-z0-9._-]`, 1–128):
 *
 * | request | answer |
 * |---|---|
 * | `PUT /v1/vaults/:vault/objects/<key>` (`If-None-Match: *` = put-if-absent) | 204; 412 when the key exists and put-if-absent was asked |
 * | `GET /v1/vaults/:vault/objects/<key>` (`Range: bytes=a-b`) | 200/206 with the bytes; 404 |
 * | `HEAD /v1/vaults/:vault/objects/<key>` | 200 with `x-kith-size`, `etag`; 404 |
 * | `DELETE /v1/vaults/:vault/objects/<key>` | 204 (also when missing) |
 * | `GET /v1/vaults/:vault/list?prefix=&after=&limit=` | `{ items: [{key,size,etag}], next? }`, byte order, ≤ 1000 a page |
 * | `POST /v1/vaults/:vault/batch-get` `{ keys: [...] }` (≤ 1000 keys) | {@link decodeBatch} framing |
 * | `GET /v1/vaults/:vault/watch` (WebSocket) | {@link PushMessage}s |
 * | `GET /health` | `{ ok: true }` |
 *
 * Errors are JSON `{ code, message }` with a `KITH_*` code.
 */
import { assertRemoteKey, ErrorCode, KithError } from '@kith/core';

/** Version prefix of every vault route. */
export const API_PREFIX = '/v1/vaults';
/** Most entries in one listing page or one batch-get. */
export const MAX_PAGE = 1000;
/** Header that names the writer's push connection, so it is not told of its own writes. */
export const CONNECTION_HEADER = 'x-kith-connection';
/** Header with an object's size on HEAD. */
export const SIZE_HEADER = 'x-kith-size';

const VAULT_RE = /^[A-Za-z0-9._-]{1,128}$/;

/** Throws KITH_BAD_NAME unless `vault` is a valid relay vault name. */
export function assertVaultName(vault: string): void {
  if (!VAULT_RE.test(vault) || vault === '.' || vault === '..') {
    throw new KithError(ErrorCode.BadName, `invalid relay vault name ${JSON.stringify(vault)}`, { hint: 'use letters, digits, ".", "_" and "-" (at most 128)' });
  }
}

/** The path of one object (keys are validated first, so no segment needs escaping). */
export function objectPath(vault: string, key: string): string {
  assertRemoteKey(key);
  return `${API_PREFIX}/${vault}/objects/${key}`;
}

/**
 * A message the relay pushes over the watch socket.
 * - `hello`: sent once on connect; `connection` is this socket's id, to be
 *   sent back in {@link CONNECTION_HEADER} on writes.
 * - `changed`: `key` was written or deleted by another client.
 */
export type PushMessage = { readonly type: 'hello'; readonly connection: string } | { readonly type: 'changed'; readonly key: string };

/** A message a client sends over the watch socket: which prefixes it wants news of. */
export interface WatchRequest {
  readonly type: 'watch';
  readonly prefixes: readonly string[];
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
