/**
 * @module remote
 * The Remote interface: where devices exchange ciphertext. A remote moves
 * opaque bytes under opaque keys; all meaning (formats, crypto, ordering)
 * lives in the core. Adapters: `@kith/folder`, `@kith/s3`, `@kith/relay`.
 */
import { ErrorCode, KithError } from '../base/errors.js';

/** What a listing or `head` says of one object. */
export interface RemoteObjectInfo {
  readonly key: string;
  /** Size in bytes. */
  readonly size: number;
  /**
   * An opaque token that changes whenever the object's bytes change (an S3
   * ETag, a file's mtime+size+inode). Equal tokens mean "unchanged" for the
   * idle-sync shortcut; a remote that cannot tell returns a fresh token each
   * time and only loses that shortcut.
   */
  readonly etag: string;
}

export interface RemoteCallOptions {
  /** Cancels the call; it then rejects with KITH_ABORTED. */
  readonly signal?: AbortSignal;
}

export interface PutOptions extends RemoteCallOptions {
  /**
   * Write only if no object exists under the key. Remotes that cannot do
   * this atomically (see `capabilities.putIfAbsent`) do a best-effort check
   * or plain write; the core never depends on it for correctness.
   */
  readonly ifAbsent?: boolean;
}

/**
 * What a put may say of itself (see {@link Remote.put}). An adapter answers `stored: true` only on
 * the store's own word that the key now holds these very bytes (it created the object: a link that
 * did not fail, an HTTP 200/204 to `If-None-Match: *`); anything less is no outcome at all, and a
 * caller that must know reads the key back.
 */
export interface PutOutcome {
  readonly stored: true;
}

export interface GetOptions extends RemoteCallOptions {
  /** Read `length` bytes from `offset` only. */
  readonly range?: { readonly offset: number; readonly length: number };
  /**
   * A buffer the remote may read the object into when it fits: the result is
   * then a view of it, which the caller reuses once done with the bytes (blob
   * fetches, to spare a fresh buffer per chunk). Remotes are free to ignore it.
   */
  readonly into?: Uint8Array;
}

export interface ListOptions extends RemoteCallOptions {
  /** Only keys strictly greater than this one (byte order). */
  readonly after?: string;
  /** At most this many entries (the adapter pages internally up to it). Default: all. */
  readonly limit?: number;
}

export interface RemoteCapabilities {
  /** `put(..., {ifAbsent: true})` is atomic on this remote. */
  readonly putIfAbsent: boolean;
  /** `watch` is available (real-time push; see `WatchableRemote`). */
  readonly watch: boolean;
  /** `get` may answer from the last listing (see `ListedReadRemote`). Default false. */
  readonly listedReads?: boolean;
  /**
   * The objects live on this machine's own disk (a folder remote on a fixed
   * local file system): as readable offline as a local copy, so the blob
   * cache keeps no second copy of them. Default false.
   */
  readonly local?: boolean;
}

/**
 * A remote object store: its few verbs.
 *
 * Contract (checked by `runRemoteConformance` in `@kith/core/testing`):
 * - Keys are validated by {@link assertRemoteKey}: `/`-separated segments of
 *   `[A-Za-z0-9._-]`, no empty, `.` or `..` segment, at most 512 bytes.
 *   Adapters refuse others with KITH_BAD_NAME before touching storage.
 *   The core never stores a key that is a path-prefix of another (`a` and
 *   `a/b`), so a remote that maps keys to nested paths need not support it.
 * - `put` is atomic: a reader sees the whole old object, the whole new one,
 *   or none; never a torn write. Once `put` resolves the object is durable.
 *   A put may resolve to a {@link PutOutcome} where the adapter knows its
 *   bytes were stored (a put-if-absent that created the object): callers
 *   that must know the key holds their bytes then skip reading it back.
 * - `get` resolves `null` for a missing key (not an error); with a range, the
 *   bytes in that range (fewer at the end of the object).
 * - `head` resolves `null` for a missing key.
 * - `list(prefix)` returns every key that starts with `prefix` (a plain
 *   string prefix, not a directory), strictly after `after`, in ascending
 *   byte order, at most `limit`. Listing may lag writes on eventually
 *   consistent stores; the core never trusts a listing for completeness.
 * - `delete` is idempotent: deleting a missing key succeeds.
 * - Failures reject with a KithError: KITH_REMOTE_UNAVAILABLE (after the
 *   adapter's own retries), KITH_REMOTE_AUTH, KITH_REMOTE_NOT_FOUND,
 *   KITH_BAD_NAME, KITH_ABORTED.
 *
 * Powers beyond these verbs are capabilities with guards (ports/capabilities:
 * `canGetMany`, `canWatch`, `usesDeviceKey`, `readsListed`); request counts
 * come from the `countingRemote` decorator (ports/counting).
 */
export interface Remote {
  /** A display form of where this remote is; never contains secrets. */
  readonly url: string;
  readonly capabilities: RemoteCapabilities;
  put(key: string, bytes: Uint8Array, options?: PutOptions): Promise<void | PutOutcome>;
  get(key: string, options?: GetOptions): Promise<Uint8Array | null>;
  head(key: string, options?: RemoteCallOptions): Promise<RemoteObjectInfo | null>;
  list(prefix: string, options?: ListOptions): Promise<RemoteObjectInfo[]>;
  delete(key: string, options?: RemoteCallOptions): Promise<void>;
  /** Releases connections and file handles. */
  close(): Promise<void>;
}

export const MAX_REMOTE_KEY_BYTES = 512;
const KEY_SEGMENT_RE = /^[A-Za-z0-9._-]+$/;

/** Throws KITH_BAD_NAME unless `key` is a valid remote key (see {@link Remote}). */
export function assertRemoteKey(key: string): void {
  const ok =
    typeof key === 'string' &&
    key.length > 0 &&
    key.length <= MAX_REMOTE_KEY_BYTES &&
    key.split('/').every((s) => KEY_SEGMENT_RE.test(s) && s !== '.' && s !== '..');
  if (!ok) throw new KithError(ErrorCode.BadName, `invalid remote key ${JSON.stringify(key)}`);
}

/**
 * Throws KITH_BAD_NAME unless `prefix` is a valid listing prefix: empty, or
 * a valid key, or a valid key followed by `/`.
 */
export function assertRemotePrefix(prefix: string): void {
  if (prefix === '') return;
  assertRemoteKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
}

/**
 * Waits `ms`, or rejects with KITH_ABORTED as soon as `signal` fires. The
 * abort listener is removed when the wait ends, so retry loops and long
 * polls do not pile listeners up on one signal.
 */
export function abortableSleep(ms: number, signal?: AbortSignal, message = 'operation cancelled'): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new KithError(ErrorCode.Aborted, message));
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new KithError(ErrorCode.Aborted, message));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Rejects with KITH_ABORTED if the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new KithError(ErrorCode.Aborted, 'operation cancelled');
}

/** The identity a vault lends its remote: whom it signs as, and a signer for challenges only. */
export interface RemoteDeviceKey {
  /** The vault's id (32 hex). */
  readonly vaultId: string;
  /**
   * Who signs, as the registry names signers: a deviceId (16 hex), or
   * `recovery` / `password` while a vault is founded or restored, before
   * the new device is in the registry.
   */
  readonly signer: string;
  readonly signPub: Uint8Array;
  /**
   * Signs a remote's challenge. The signed message is
   * {@link remoteAuthMessage}, so whatever bytes a remote sends, the
   * signature is useless as a signature of a vault object.
   */
  sign(challenge: Uint8Array): Promise<Uint8Array>;
}
