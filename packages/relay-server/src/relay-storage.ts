/**
 * @module server/relay-storage
 * What a relay process needs from where objects live, and how it tells the
 * other processes of a deployment that a key moved. The embedded relay
 * keeps both in one process (SQLite + an in-process bus); scale-out keeps
 * objects in S3, metadata in PostgreSQL, and fans out with LISTEN/NOTIFY.
 */
import { createHash } from 'node:crypto';
import type { RemoteObjectInfo } from '@kith/core/adapter';

/** A listed object, with its bytes when the listing asked for bodies up to its size. */
export interface ListedObject extends RemoteObjectInfo {
  readonly body?: Uint8Array;
}

/** One page of a listing. */
export interface ObjectPage {
  readonly items: ListedObject[];
  /** Set when more keys may follow: list again with `after` = this key. */
  readonly next?: string;
}

/** A byte range of an object. */
export interface ByteRange {
  readonly offset: number;
  readonly length: number;
}

/**
 * The objects of every vault a relay serves. A put that resolved is
 * durable: the relay acknowledges writes only after `put` resolves.
 */
export interface RelayStorage {
  /**
   * Stores `bytes`; with `ifAbsent`, only when no object exists. Resolves
   * to the size of the object it replaced (0 when there was none), or null
   * when it wrote nothing (put-if-absent found an object).
   */
  put(vault: string, key: string, bytes: Uint8Array, ifAbsent?: boolean): Promise<number | null>;
  /** The whole object, or `range`; null when missing. */
  get(vault: string, key: string, range?: ByteRange): Promise<Uint8Array | null>;
  /** Several whole objects in one go (batch-get); null for each missing one. */
  getMany(vault: string, keys: readonly string[]): Promise<(Uint8Array | null)[]>;
  head(vault: string, key: string): Promise<RemoteObjectInfo | null>;
  /**
   * Up to `limit` objects whose key starts with `prefix`, strictly after
   * `after`, in byte order; objects of at most `bodiesUpTo` bytes with
   * their bytes (in the same read, so each body is the listed version).
   */
  list(vault: string, prefix: string, after: string, limit: number, bodiesUpTo?: number): Promise<ObjectPage>;
  /** Removes the object if present; resolves to whether one was removed. */
  delete(vault: string, key: string): Promise<boolean>;
  /**
   * Makes `owner` the holder of `name` in `vault` unless someone holds it
   * already, and resolves (once durable) to the holder: atomic across every
   * process sharing this storage, where a check of cached state is not.
   * Claims are never released and are not objects (no listing shows them).
   * The relay claims each deviceId a space certificate lists for its person.
   */
  claim(vault: string, name: string, owner: string): Promise<string>;
  close(): Promise<void>;
}

/** Keys are ASCII `[A-Za-z0-9._/-]`, all below U+007F, so `prefix + '\x7f'` bounds a prefix range. */
export const PREFIX_END = '\x7f';

/** Opaque etag: a digest of the bytes, so equal bytes give equal tags whichever storage holds them. */
export const etagOf = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('base64url').slice(0, 27);

/** A page from up to `limit + 1` rows fetched in key order: the extra row only says that more follow. */
export function pageOf(rows: ListedObject[], limit: number): ObjectPage {
  if (rows.length <= limit) return { items: rows };
  rows.length = limit;
  return { items: rows, next: rows[limit - 1]!.key };
}

/**
 * A change to fan out: `writer` is the push connection that made it (not
 * told of its own write); `body`, the bytes a small write stored, which
 * sockets that asked for bodies get with the notice.
 */
export interface KeyChange {
  readonly vault: string;
  readonly key: string;
  readonly writer?: string | undefined;
  readonly body?: Uint8Array | undefined;
}

/**
 * What a bus delivers after an outage in which changes may have been lost
 * (its connection to the other processes dropped): any key of any vault
 * may have moved. `*` is no valid vault name, so it names no real vault.
 */
export const MISSED_CHANGES: KeyChange = Object.freeze({ vault: '*', key: '' });

/**
 * Carries key changes to every relay process of a deployment, this one
 * included. Best effort: a lost notice costs a device one polling interval,
 * never data; a bus that knows it may have lost some delivers
 * {@link MISSED_CHANGES} once it is back. `publish` never rejects.
 */
export interface ChangeBus {
  publish(change: KeyChange): Promise<void>;
  /** Calls `deliver` for every change published by any process; returns an unsubscribe. */
  subscribe(deliver: (change: KeyChange) => void): () => void;
  /**
   * A number that stays the same while this bus has carried every change
   * published since it was read, and undefined while it is down (changes
   * may be lost). A bus without it is never trusted to bring news (see
   * `registryTrustMs`).
   */
  continuity?(): number | undefined;
  close(): Promise<void>;
}

/** The bus of a single-process relay: publish delivers at once. */
export class LocalChangeBus implements ChangeBus {
  readonly #subs = new Set<(change: KeyChange) => void>();
  publish(change: KeyChange): Promise<void> {
    for (const deliver of this.#subs) deliver(change);
    return Promise.resolve();
  }
  subscribe(deliver: (change: KeyChange) => void): () => void {
    this.#subs.add(deliver);
    return () => this.#subs.delete(deliver);
  }
  continuity(): number {
    return 0;
  }
  close(): Promise<void> {
    this.#subs.clear();
    return Promise.resolve();
  }
}
