/**
 * @module snapshot/read
 * Reading a snapshot's state as a stream: its chunks fetched a window
 * ahead (network and decryption overlap the parsing and the store's
 * writes), each checked against its size and parsed into rows handed on
 * in batches, so only a window of the state is ever in memory. Every
 * check of docs/FORMAT.md "Snapshot" holds over the whole stream (order,
 * counts); a failure rejects, and the caller's transaction keeps nothing.
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { nextTurn } from '../base/next-turn.js';
import type { SnapshotManifest } from '../format/index.js';
import { blobKeys } from '../format/blob-format.js';
import type { RecordRow } from '../model/merge.js';
import type { EngineContext } from '../sync/context.js';
import { RowReader, type RowOutput } from './row-reader.js';
import { openChunk, READ_AHEAD, type ChunkStore } from './chunks.js';
import type { ParsedChunk, RowsAhead, SnapshotPrefetch } from './prefetch.js';

/** Rows handed on at once. */
const BATCH_ROWS = 2000;

/** What a whole stream held. */
export interface SnapshotRowCounts {
  readonly rows: number;
  readonly live: number;
  /** The collections the rows are in, in order (sorted: rows come in collection order). */
  readonly collections: string[];
}

/**
 * Fetches, checks and parses the state of snapshot `key` (its manifest
 * `m`, already verified), handing rows to `onRows` in order, in batches;
 * resolves once every row was handed on and the counts match the
 * manifest's. `deleted`: the batch's deleted rows, in order (found by the
 * checks' own pass over the rows, so a caller needs none). No fetch outlives the call. `parsed`: the first chunks' rows
 * as a restore parsed them ahead (snapshot/prefetch), taken in place of
 * reading and parsing those chunks, with the same checks of their sizes.
 * `output`: what the rows hold (see RowOutput; objects by default).
 */
export async function readSnapshotRows(
  chunks: Pick<ChunkStore, 'getChunk'>,
  key: string,
  m: SnapshotManifest,
  onRows: (rows: RecordRow[], deleted: RecordRow[]) => Promise<void>,
  o: { signal?: AbortSignal | undefined; parsed?: RowsAhead | undefined; output?: RowOutput } = {},
): Promise<SnapshotRowCounts> {
  const { signal, parsed } = o;
  const reader = parsed?.reader ?? new RowReader(`snapshot ${key}`, m.version ?? 1, o.output ? { output: o.output } : {});
  // The window reads up to READ_AHEAD chunks past the one at hand, from the first chunk not parsed ahead; one of
  // those that could not be is read alone.
  const planned = Math.min(parsed?.planned ?? 0, m.chunks.length);
  let fromParsed = parsed !== undefined;
  const ahead: Promise<Uint8Array>[] = [];
  let next = planned;
  const fill = (at: number): void => {
    while (next < m.chunks.length && next <= at + READ_AHEAD && ahead.length < READ_AHEAD) {
      const fetched = chunks.getChunk(m.chunks[next++]!.id, signal);
      fetched.catch(() => undefined); // awaited in turn, or settled below
      ahead.push(fetched);
    }
  };
  /** Chunk `i`'s rows, from the rows parsed ahead while they last, else read and parsed here. */
  const rowsOf = async (i: number): Promise<ParsedChunk> => {
    const taken = fromParsed && i < planned ? await parsed!.take(i) : undefined;
    if (taken) return taken;
    fromParsed = false;
    const plain = await (i < planned ? chunks.getChunk(m.chunks[i]!.id, signal) : ahead.shift()!);
    return { size: plain.length, rows: plain.length === m.chunks[i]!.size ? reader.push(plain) : [] };
  };
  const outOfOrder = (): KithError => new KithError(ErrorCode.IntegrityCorrupt, `snapshot ${key}'s rows are out of order`);
  let rows = 0;
  let live = 0;
  // The last row's collection and id; '' before the first (every name and id sorts after it: neither is ever empty).
  let lastCollection = '';
  let lastId = '';
  let batch: RecordRow[] = [];
  let deleted: RecordRow[] = [];
  const collections: string[] = [];
  try {
    for (const [i, c] of m.chunks.entries()) {
      fill(i);
      const chunk = await rowsOf(i);
      if (chunk.size !== c.size) throw new KithError(ErrorCode.IntegrityCorrupt, `snapshot ${key}: chunk ${c.id.slice(0, 12)}… has the wrong size`);
      if ('error' in chunk) throw chunk.error;
      // Indexed, with the last key in locals: this loop runs once a row, in a bootstrap's cold code.
      const list = chunk.rows;
      for (let k = 0; k < list.length; k++) {
        const r = list[k]!;
        const { collection, id } = r;
        if (collection !== lastCollection) {
          if (collection < lastCollection) throw outOfOrder();
          collections.push(collection);
          lastCollection = collection;
        } else if (id <= lastId) throw outOfOrder();
        lastId = id;
        if (r.deleted) deleted.push(r);
        else live++;
      }
      rows += list.length;
      batch = batch.length === 0 ? list : batch.concat(list);
      if (batch.length >= BATCH_ROWS) {
        await onRows(batch, deleted);
        batch = [];
        deleted = [];
      }
      // Parsing and the store's writes are synchronous: without a turn of the event loop here the fetches
      // ahead would not advance (each needs several), and the window would drain before they did.
      if (next < m.chunks.length || ahead.length > 0) await nextTurn();
    }
    reader.end();
    if (rows !== m.rows || live !== m.live) throw new KithError(ErrorCode.IntegrityCorrupt, `snapshot ${key} holds other rows than its manifest counts`);
    if (batch.length > 0) await onRows(batch, deleted);
  } finally {
    await Promise.allSettled(ahead);
  }
  return { rows, live, collections };
}

/**
 * Chunks read straight from the remote with the epoch keys this device
 * already holds: never a store call, so a reader may run inside a store
 * transaction (the blob layer would write a newly learnt key or registry
 * entry to the store, and wait for that very transaction). The caller
 * loads the keys first; a chunk under any other epoch is refused as the
 * blob layer refuses one under an unknown key. Chunks read ahead (`prefetch`)
 * stand for the first reads: checked the same, with the same key.
 */
export function chunksWithKnownKeys(ctx: EngineContext, prefetch?: SnapshotPrefetch): Pick<ChunkStore, 'getChunk'> {
  return {
    async getChunk(id, signal) {
      const ahead = await prefetch?.chunk(id);
      if (ahead) return ahead;
      const bytes = await ctx.remote.get(blobKeys.chunk(id), signal ? { signal } : {});
      if (!bytes)
        throw new KithError(ErrorCode.NotFound, `blob chunk ${id.slice(0, 12)}… is missing from the remote`, { hint: 'the remote lost part of a snapshot' });
      return openChunk(bytes, id, ctx.vaultId, (e) => ctx.epochKeys.get(e));
    },
  };
}
