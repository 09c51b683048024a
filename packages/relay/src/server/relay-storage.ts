/**
 * @module server/relay-storage
 * What a relay process needs from where objects live, and how it tells the
 * other processes of a deployment that a key moved. The embedded relay
 * keeps both in one process (SQLite + an in-process bus); scale-out keeps
 * objects in S3, metadata in PostgreSQL, and fans out with LISTEN/NOTIFY.
 */
import type { RemoteObjectInfo } from '@kith/core';

/** One page of a listing. */
export interface ObjectPage {
  readonly items: RemoteObjectInfo[];
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
  /** Stores `bytes`; with `ifAbsent`, only when no object exists. Resolves to whether it wrote. */
  put(vault: string, key: string, bytes: Uint8Array, ifAbsent?: boolean): Promise<boolean>;
  /** The whole object, or `range`; null when missing. */
  get(vault: string, key: string, range?: ByteRange): Promise<Uint8Array | null>;
  /** Several whole objects in one go (batch-get); null for each missing one. */
  getMany(vault: string, keys: readonly string[]): Promise<(Uint8Array | null)[]>;
  head(vault: string, key: string): Promise<RemoteObjectInfo | null>;
  /** Up to `limit` objects whose key starts with `prefix`, strictly after `after`, in byte order. */
  list(vault: string, prefix: string, after: string, limit: number): Promise<ObjectPage>;
  /** Removes the object if present; resolves to whether one was removed. */
  delete(vault: string, key: string): Promise<boolean>;
  close(): Promise<void>;
}

/** A change to fan out: `writer` is the push connection that made it (not told of its own write). */
export interface KeyChange {
  readonly vault: string;
  readonly key: string;
  readonly writer?: string | undefined;
}

/**
 * Carries key changes to every relay process of a deployment, this one
 * included. Best effort: a lost notice costs a device one polling interval,
 * never data.
 */
export interface ChangeBus {
  publish(change: KeyChange): Promise<void>;
  /** Calls `deliver` for every change published by any process; returns an unsubscribe. */
  subscribe(deliver: (change: KeyChange) => void): () => void;
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
  close(): Promise<void> {
    this.#subs.clear();
    return Promise.resolve();
  }
}
