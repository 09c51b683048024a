/**
 * @module server/object-cache
 * What the embedded relay knows of recently touched keys without asking
 * SQLite: the bytes of small objects, and keys known to be absent. Under
 * load most reads are of objects written a moment ago (a head and the
 * segment it names, read by every other device of the vault) or of a key
 * that does not exist yet (the next registry entry, looked up before every
 * request); each SQLite read is a read transaction with its locks, and
 * these reads were a fifth of a busy relay's CPU. The cache is exact, not
 * a guess: the process owning the file writes every object through it
 * (see ObjectDb), and a commit by anyone else empties it.
 */
import type { RemoteObjectInfo } from '@kith/core/adapter';
import { etagOf } from './relay-storage.js';

/** Objects up to this size are kept with their bytes (heads, segments, registry entries; not blob chunks). */
export const CACHED_OBJECT_MAX = 16 * 1024;
/** Bytes of cached objects at most (oldest dropped first): the hot set under load is each vault's head and latest segments. */
const CACHE_BYTES = 16 * 1024 * 1024;
/** Entries at most, absent keys included. */
const CACHE_ENTRIES = 50_000;

/** A cached object (its etag computed on first use), or `null`: no object under the key. */
type Entry = { readonly bytes: Buffer; etag?: string } | null;

/** Small objects and absent keys by vault and key, the least recently stored (or read from storage) dropped first. */
export class ObjectCache {
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;

  /** The entry for a key: the object, `null` (known absent), or undefined (not known: ask storage). */
  get(vault: string, key: string): Entry | undefined {
    return this.#entries.get(`${vault}\0${key}`);
  }

  /** Size and etag of a cached object. */
  static info(key: string, e: NonNullable<Entry>): RemoteObjectInfo {
    return { key, size: e.bytes.length, etag: (e.etag ??= etagOf(e.bytes)) };
  }

  /** Records what storage now holds under the key: bytes (kept only when small), or null for none. */
  set(vault: string, key: string, bytes: Buffer | null): void {
    const id = `${vault}\0${key}`;
    this.#drop(id);
    if (bytes !== null && bytes.length > CACHED_OBJECT_MAX) return;
    this.#entries.set(id, bytes === null ? null : { bytes });
    this.#bytes += bytes?.length ?? 0;
    for (const [old, e] of this.#entries) {
      if (this.#bytes <= CACHE_BYTES && this.#entries.size <= CACHE_ENTRIES) break;
      this.#drop(old, e);
    }
  }

  /** Forgets the key (its stored state is not known here any more). */
  forget(vault: string, key: string): void {
    this.#drop(`${vault}\0${key}`);
  }

  /** Forgets everything (someone else committed to the file). */
  clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
  }

  #drop(id: string, e: Entry | undefined = this.#entries.get(id)): void {
    if (e === undefined) return;
    this.#entries.delete(id);
    this.#bytes -= e?.bytes.length ?? 0;
  }
}
