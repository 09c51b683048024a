/**
 * @module snapshot/prefetch
 * What a restoring device reads ahead of its first pull, while it writes
 * itself into the registry and seals its key: the snapshot listing, the
 * newest manifest's bytes, and its first chunks, decrypted and checked
 * against their ids with the vault key the device just opened, exactly as
 * the bootstrap checks a chunk it reads (a chunk's id is a keyed hash of its
 * plaintext: whichever manifest names it, the plaintext is that chunk's),
 * then parsed into rows in order by the reader the bootstrap goes on with,
 * so the main thread parses while the device waits for its writes.
 * Nothing else read here is trusted: the bootstrap takes the manifest's
 * bytes in place of its own read and checks them as it would (against the
 * registry and the signed heads), and each chunk's size. Best effort:
 * whatever fails or is missing is read and checked again then.
 */
import { blobKeys } from '../format/blob-format.js';
import { decodeSnapshot, peekSnapshot, snapshotKeys, type SnapshotManifest } from '../format/index.js';
import type { Remote, RemoteObjectInfo } from '../ports/remote.js';
import type { DeviceRegistry } from '../identity/registry.js';
import { nextTurn } from '../base/next-turn.js';
import { TaskWindow } from '../blobs/task-window.js';
import type { RecordRow } from '../model/merge.js';
import { openChunk, READ_AHEAD } from './chunks.js';
import { RowReader, type RowOutput } from './row-reader.js';

/**
 * Plaintext read ahead at most, beyond the first {@link READ_AHEAD} chunks: the whole state of
 * 10,000 typical records (about 2 MiB), which is then read and decrypted while the device writes
 * itself in, leaving the bootstrap only the parsing and the writes; a larger state starts with this much.
 */
export const AHEAD_BYTES = 4 * 1024 * 1024;

/** A chunk read ahead and parsed: its plaintext's size, and its rows or the refusal they met (thrown by the bootstrap at that chunk, once its size checks). */
export type ParsedChunk = { readonly size: number; readonly rows: RecordRow[] } | { readonly size: number; readonly error: unknown };

/** The newest snapshot's first chunks, parsed ahead in order, and the reader that parsed them, for the bootstrap to go on with. */
export interface RowsAhead {
  /** The reader, standing right after the last chunk parsed ahead (after the chunk before the first one `take` answers undefined for). */
  readonly reader: RowReader;
  /** How many chunks of the manifest, from the first, were planned ahead. */
  readonly planned: number;
  /**
   * Chunk `index`'s rows (index < planned, asked in order), or undefined if it could not be read ahead: the
   * bootstrap then reads it and every later one itself, with {@link RowsAhead.reader}, which stands right
   * before it.
   */
  take(index: number): Promise<ParsedChunk | undefined>;
}

/** What was read ahead: each taken at most once. */
export class SnapshotPrefetch {
  readonly #listing: Promise<RemoteObjectInfo[] | undefined>;
  readonly #newest: Promise<{ key: string; bytes: Promise<Uint8Array | null | undefined> } | undefined>;
  readonly #chunks: Promise<Map<string, Promise<Uint8Array | undefined>>>;
  /** The rows parsed ahead, with the manifest's key, format and chunk ids they belong to. */
  #rows: { key: string; version: 1 | 2; ids: string[]; ahead: RowsAhead } | undefined;

  /**
   * `bulkRows`: the first chunks too, parsed into such rows (only a store with `bulkLoad` reads them straight from the remote;
   * others go through the blob layer, and this is undefined for them).
   * `epochKey` may settle later than the manifest arrives (the device may still be opening its sealed key): only naming the chunks waits for it.
   */
  constructor(
    remote: Remote,
    vaultId: string,
    registry: DeviceRegistry,
    epochKey: (epoch: number) => Promise<Uint8Array | undefined> | Uint8Array | undefined,
    bulkRows: RowOutput | undefined,
  ) {
    const quiet = <T>(p: Promise<T>): Promise<T | undefined> => p.catch(() => undefined);
    this.#listing = quiet(remote.list(snapshotKeys.prefix));
    this.#newest = this.#listing.then((found) => {
      const key = snapshotKeys.newestFirst(found ?? [])[0];
      return key === undefined ? undefined : { key, bytes: quiet(remote.get(key)) };
    });
    // The chunk ids are inside the manifest: decoded here only to name what to fetch.
    this.#chunks = this.#newest.then(async (newest) => {
      const chunks = new Map<string, Promise<Uint8Array | undefined>>();
      const bytes = await newest?.bytes;
      if (!bulkRows || !newest || !bytes) return chunks;
      try {
        const header = peekSnapshot(bytes, newest.key);
        const signPub = registry.deviceSignPub(header.deviceId);
        const key = signPub && (await epochKey(header.epoch));
        if (!signPub || !key) return chunks;
        const keyOf = (e: number): Uint8Array | undefined => (e === header.epoch ? key : undefined);
        const m = await decodeSnapshot(bytes, { vaultId, key: newest.key, signPub, epochKey: keyOf });
        const ahead: { id: string; settle: (plain: Uint8Array | undefined) => void }[] = [];
        let planned = 0;
        for (const [i, c] of m.chunks.entries()) {
          if (i >= READ_AHEAD && planned + c.size > AHEAD_BYTES) break;
          planned += c.size;
          chunks.set(c.id, new Promise((settle) => ahead.push({ id: c.id, settle })));
        }
        // In order, a window at a time. A chunk under another epoch, or one that fails its checks, is
        // undefined here: the bootstrap reads it again, and refuses it as it would have.
        void (async () => {
          const window = new TaskWindow(READ_AHEAD);
          for (const { id, settle } of ahead) {
            await window.add(async () => {
              const stored = await quiet(remote.get(blobKeys.chunk(id)));
              settle(stored ? await quiet(openChunk(stored, id, vaultId, keyOf)) : undefined);
            });
          }
        })();
        const ids = ahead.map((a) => a.id);
        this.#rows = {
          key: newest.key,
          version: m.version ?? 1,
          ids,
          ahead: parseInOrder(new RowReader(`snapshot ${newest.key}`, m.version ?? 1, { output: bulkRows }), ids, chunks),
        };
      } catch {
        // Refused here, refused by the bootstrap's own checks too: nothing to fetch ahead.
      }
      return chunks;
    });
  }

  /** The snapshot listing as read ahead, or undefined if that failed. */
  listing(): Promise<RemoteObjectInfo[] | undefined> {
    return this.#listing;
  }

  /** The bytes of snapshot `key` as read ahead (null: absent then), or undefined if they were not read. */
  async manifest(key: string): Promise<Uint8Array | null | undefined> {
    const newest = await this.#newest;
    return newest?.key === key ? newest.bytes : undefined;
  }

  /** The plaintext of chunk `id` as read ahead and checked against its id, at most once; undefined if it was not read or failed. */
  async chunk(id: string): Promise<Uint8Array | undefined> {
    const chunks = await this.#chunks;
    const p = chunks.get(id);
    chunks.delete(id);
    return p;
  }

  /**
   * The rows parsed ahead for snapshot `key`, whose verified manifest is `m`, at most once: undefined unless
   * they were parsed from the same object (same key, format and first chunks).
   */
  async rowsAhead(key: string, m: SnapshotManifest): Promise<RowsAhead | undefined> {
    await this.#chunks;
    const rows = this.#rows;
    this.#rows = undefined;
    if (!rows || rows.key !== key || rows.version !== (m.version ?? 1) || rows.ids.some((id, i) => m.chunks[i]?.id !== id)) return undefined;
    return rows.ahead;
  }
}

/**
 * Parses the plaintexts of chunks `ids` (in `chunks`, read ahead) in order with `reader`, each in a turn of its
 * own as it arrives. A chunk that was not read stops the parsing right before it, leaving the reader there; a
 * refusal stops it too (the reader is then spent: the bootstrap throws that refusal at that chunk).
 */
export function parseInOrder(reader: RowReader, ids: string[], chunks: Map<string, Promise<Uint8Array | undefined>>): RowsAhead {
  let stopped = false;
  const parsed: Promise<ParsedChunk | undefined>[] = [];
  for (const [i, id] of ids.entries()) {
    const plain = chunks.get(id)!;
    parsed.push(
      (parsed[i - 1] ?? Promise.resolve()).then(async () => {
        const bytes = await plain;
        if (stopped || !bytes) {
          stopped = true;
          return undefined;
        }
        // A task of its own: the restore's writes, whose steps each need this thread, go on between chunks.
        await nextTurn();
        chunks.delete(id); // parsed: the bootstrap takes its rows, never its plaintext
        try {
          return { size: bytes.length, rows: reader.push(bytes) };
        } catch (error) {
          stopped = true;
          return { size: bytes.length, error };
        }
      }),
    );
  }
  return { reader, planned: ids.length, take: (index) => parsed[index] ?? Promise.resolve(undefined) };
}
