/**
 * @module snapshot/bootstrap
 * A new device starts from the newest valid snapshot instead of the whole
 * history: it checks the manifest (signer admitted by the registry at the
 * position it names, V not ahead of any device's signed head, the chain
 * hashes continued by each device's next segment), applies the state with
 * the cursors at V in one transaction (rows going in as the chunks arrive,
 * where the store can), and the ordinary pull then fetches only
 * the segments after V, chained from the snapshot's hashes. A snapshot that
 * fails is skipped with a warning and the next older one tried; with none
 * left, the device replays the full history as before. An old snapshot is
 * harmless: the tail is just longer.
 */
import { hex } from '@scure/base';
import { ErrorCode, KithError, isIntegrityError } from '../base/errors.js';
import { WarningCode, type SyncWarning } from '../base/warnings.js';
import { bytesEqual } from '../crypto/index.js';
import { decodeSnapshot, peekSnapshot, snapshotKeys, type SnapshotManifest } from '../format/index.js';
import { corrupt } from '../format/framing.js';
import { HybridClock, stampDevice, stampLocal } from '../model/hlc.js';
import { ALIVE } from '../model/ops.js';
import type { RecordRow } from '../model/merge.js';
import type { LogEntry, StoreTx } from '../ports/store.js';
import { oneWriteText } from '../ports/row-text.js';
import { META, readMeta, writeMeta, type Cursor } from '../ports/store-meta.js';
import type { EngineContext } from '../sync/context.js';
import { catchUpRegistry, epochKeyNamedBy } from '../sync/catch-up.js';
import { fetchSegments, openSegment } from '../sync/segments.js';
import { readVerifiedHeads } from '../sync/remote-heads.js';
import { chunksWithKnownKeys, readSnapshotRows, type SnapshotRowCounts } from './read.js';
import { loadEpochKey } from '../identity/epochs.js';
import type { ChunkStore } from './chunks.js';
import type { SnapshotPrefetch } from './prefetch.js';
import { bulkRowOutput } from './row-reader.js';
import type { RemoteObjectInfo } from '../ports/remote.js';
import type { HeadsRead } from '../identity/heads-read.js';

export interface BootstrapOutcome {
  /** The snapshot applied, if any. */
  readonly applied?: { key: string; rows: number; collections: string[] };
  /** Why snapshots were refused (each skipped for an older one or the full history). */
  readonly warnings: SyncWarning[];
}

/** Snapshots tried, newest first, before falling back to the full history. */
const MAX_TRIES = 3;

const refuse = (key: string, why: string): KithError =>
  new KithError(ErrorCode.IntegritySnapshot, `snapshot ${key} was refused: ${why}`, {
    hint: 'the device bootstraps from an older snapshot or the full history instead; a device that holds the vault can write a new snapshot',
  });

/** True while this store has pulled nothing and holds no records: the only time a snapshot is applied. */
async function isFresh(ctx: EngineContext, tx: StoreTx): Promise<boolean> {
  if ((await tx.listCollections()).length > 0 || (await tx.countOutbox()) > 0) return false;
  for (const [deviceId] of ctx.registry.devices()) if ((await readMeta<Cursor>(tx, META.cursor(deviceId)))?.seq) return false;
  return true;
}

/** Applies the newest valid snapshot to a fresh store; does nothing on a store that holds anything. */
export async function bootstrapFromSnapshot(
  ctx: EngineContext,
  chunks: ChunkStore,
  signal?: AbortSignal,
  prefetch?: SnapshotPrefetch,
  given?: HeadsRead,
): Promise<BootstrapOutcome> {
  const warnings: SyncWarning[] = [];
  if (!(await ctx.store.read((tx) => isFresh(ctx, tx)))) return { warnings };
  const opts = signal ? { signal } : {};
  // Round trips before the first chunk, overlapped: the listing with the registry's catch-up, then the
  // newest manifest's bytes with the heads (verifying heads needs the registry; the bytes are checked later).
  // What a restore read ahead stands for the first reads (an older listing at worst names an older snapshot);
  // one that named none is read again, as a snapshot may have come since.
  const listing = async (): Promise<RemoteObjectInfo[]> => {
    const ahead = await prefetch?.listing();
    return ahead && snapshotKeys.newestFirst(ahead).length > 0 ? ahead : ctx.remote.list(snapshotKeys.prefix, opts);
  };
  // `given`: the heads this pull listed, verified against the registry a restore just caught up and
  // appended to, which stands for the catch-up here (a manifest naming a newer registry position still
  // syncs to it). A snapshot they refuse (one listed after them, or covering a device added since) is
  // judged again below against a caught-up registry and heads read then.
  const [found] = await Promise.all([listing(), given ? undefined : catchUpRegistry(ctx, signal)]);
  const tries = snapshotKeys.newestFirst(found).slice(0, MAX_TRIES);
  if (tries.length === 0) return { warnings };
  const newest = (async () => (await prefetch?.manifest(tries[0]!)) ?? ctx.remote.get(tries[0]!, opts))();
  newest.catch(() => undefined); // awaited by its manifest check, unless the heads fail first
  let heads = given ? given.verified : await verifiedHeads(ctx, signal);
  let handed = given !== undefined;
  for (const [i, key] of tries.entries()) {
    try {
      const fetched = i === 0 ? newest : undefined;
      const manifest = await checkedManifest(ctx, key, heads, signal, fetched).catch(async (e: unknown) => {
        // Refused against heads verified without a registry catch-up: judged again after one, before it is refused.
        if (!handed || !KithError.is(e, ErrorCode.IntegritySnapshot)) throw e;
        handed = false;
        await catchUpRegistry(ctx, signal);
        heads = await verifiedHeads(ctx, signal);
        return checkedManifest(ctx, key, heads, signal, fetched);
      });
      const applied = await apply(ctx, chunks, key, manifest, signal, i === 0 ? prefetch : undefined);
      if (!applied) return { warnings }; // something was written meanwhile: the ordinary pull goes on from there
      return { applied: { key, ...applied }, warnings };
    } catch (e) {
      if (!isIntegrityError(e) && !KithError.is(e, ErrorCode.NotFound) && !KithError.is(e, ErrorCode.UnsupportedFormat)) throw e;
      warnings.push({
        code: WarningCode.SnapshotRefused,
        message: `${e.message} (${e.code})`,
        hint: 'bootstrapped from an older snapshot or the full history instead',
      });
    }
  }
  return { warnings };
}

/** Every head on the remote that verifies, by device (a head that does not is simply absent). */
async function verifiedHeads(ctx: EngineContext, signal?: AbortSignal): Promise<Map<string, { seq: number; hash: Uint8Array }>> {
  return readVerifiedHeads(ctx, signal);
}

/** Reads (or takes the `fetched` bytes of) and checks a manifest: signer, registry position, V against the signed heads and the chains. */
export async function checkedManifest(
  ctx: EngineContext,
  key: string,
  heads: ReadonlyMap<string, { seq: number; hash: Uint8Array }>,
  signal?: AbortSignal,
  fetched?: Promise<Uint8Array | null>,
): Promise<SnapshotManifest> {
  const bytes = await (fetched ?? ctx.remote.get(key, signal ? { signal } : {}));
  if (!bytes) throw new KithError(ErrorCode.NotFound, `snapshot ${key} vanished from the remote`);
  const header = peekSnapshot(bytes, key);
  const writer = ctx.registry.device(header.deviceId);
  const signPub = ctx.registry.deviceSignPub(header.deviceId);
  if (!writer || !signPub || writer.revoked) throw refuse(key, `its writer ${header.deviceId} is not a device of the vault's registry`);
  // The registry must reach the position the writer had verified, with the same hash.
  if ((await ctx.registry.sync(ctx.remote, { seq: header.registrySeq, hash: header.registryHash, by: header.deviceId }, signal)) > 0) await ctx.saveRegistry();
  await epochKeyNamedBy(ctx, header.epoch, `snapshot ${key}`, signal);
  const m = await decodeSnapshot(bytes, { vaultId: ctx.vaultId, key, signPub, epochKey: (e) => ctx.epochKeys.get(e) });
  for (const d of m.devices) {
    const reg = ctx.registry.device(d.deviceId);
    const pub = ctx.registry.deviceSignPub(d.deviceId);
    if (!reg || !pub) throw refuse(key, `it covers device ${d.deviceId}, which the registry does not hold`);
    if (reg.revoked && d.seq > reg.revoked.lastSeq) throw refuse(key, `it covers device ${d.deviceId} past its revocation`);
    if (d.stamp !== '' && stampDevice(d.stamp) !== d.deviceId) throw refuse(key, `its stamp for device ${d.deviceId} names another device`);
    const head = heads.get(d.deviceId);
    if (!head || head.seq < d.seq) throw refuse(key, `it covers device ${d.deviceId} up to segment ${d.seq}, beyond that device's signed head`);
    const last = reg.revoked ? Math.min(head.seq, reg.revoked.lastSeq) : head.seq;
    if (head.seq === d.seq) {
      if (!bytesEqual(head.hash, d.hash)) throw refuse(key, `its hash of device ${d.deviceId}'s segment ${d.seq} is not the one the signed head names`);
    } else if (d.seq < last) {
      // The next segment must name the covered one as its predecessor, or the tail would not chain.
      const [next] = await fetchSegments(ctx, d.deviceId, [d.seq + 1], signal);
      if (!next) throw new KithError(ErrorCode.IntegrityChain, `device ${d.deviceId}'s segment ${d.seq + 1} is missing from the remote`);
      const seg = await openSegment(ctx, d.deviceId, pub, d.seq + 1, next);
      if (!bytesEqual(seg.prevHash, d.hash)) throw refuse(key, `its hash of device ${d.deviceId}'s segment ${d.seq} does not chain to segment ${d.seq + 1}`);
    }
  }
  return m;
}

/** Fetches, checks and parses the whole state of snapshot `key` (a merge into existing state needs every row at once). */
export async function readRows(chunks: ChunkStore, key: string, m: SnapshotManifest, signal?: AbortSignal): Promise<RecordRow[]> {
  const rows: RecordRow[] = [];
  await readSnapshotRows(chunks, key, m, async (batch) => void rows.push(...batch), { signal });
  return rows;
}

/**
 * Reads the state and writes it with the cursors at V in one transaction, if the store is still
 * fresh; returns the collections and rows, or undefined. A store with `bulkLoad` takes the rows
 * as they arrive; any other gets them all in one `write` once every chunk is read and checked.
 */
async function apply(
  ctx: EngineContext,
  chunks: ChunkStore,
  key: string,
  m: SnapshotManifest,
  signal?: AbortSignal,
  prefetch?: SnapshotPrefetch,
): Promise<{ collections: string[]; rows: number } | undefined> {
  const load = async (tx: StoreTx, rows: RecordRow[], deleted: RecordRow[]): Promise<void> => {
    // A store that checks the rows' texts refuses a bad one as the reader would have: as this snapshot's.
    await tx.putRecords(rows).catch((e: unknown) => {
      throw KithError.is(e, ErrorCode.IntegrityCorrupt) ? corrupt(`snapshot ${key}`, e.message) : e;
    });
    // Deleted rows enter the history: it is how the next snapshot written here finds them (stores list live rows only).
    // The reader hands them apart: no loop over every row here, in a bootstrap's cold code.
    if (deleted.length > 0) await tx.appendLog(deleted.map(tombstoneEntry));
  };
  const finish = async (tx: StoreTx, { rows, collections }: SnapshotRowCounts): Promise<{ collections: string[]; rows: number }> => {
    const clock = new HybridClock(ctx.deps.now, (await readMeta<{ last: string }>(tx, META.hlc))?.last);
    for (const d of m.devices) {
      await writeMeta<Cursor>(tx, META.cursor(d.deviceId), { seq: d.seq, hash: hex.encode(d.hash), stamp: d.stamp, etag: '' });
      if (d.stamp !== '') clock.observe(stampLocal(d.stamp));
    }
    await writeMeta(tx, META.hlc, { last: clock.last });
    return { collections, rows };
  };
  const store = ctx.store;
  if (store.bulkLoad) {
    // Every key a chunk may be under, loaded before the transaction: loading one writes to the store.
    for (let e = 0; e <= ctx.registry.epoch; e++)
      await loadEpochKey(ctx, e).catch((err: unknown) => {
        if (!isIntegrityError(err)) throw err; // a key this device cannot have: a chunk under it is refused
      });
    const direct = chunksWithKnownKeys(ctx, prefetch);
    const parsed = await prefetch?.rowsAhead(key, m);
    return store.bulkLoad(async (tx) => {
      if (!(await isFresh(ctx, tx))) return undefined;
      const counts = await readSnapshotRows(direct, key, m, (rows, deleted) => load(tx, rows, deleted), {
        signal,
        parsed,
        output: bulkRowOutput(store),
      });
      return finish(tx, counts);
    });
  }
  const all: [RecordRow[], RecordRow[]][] = [];
  const counts = await readSnapshotRows(chunks, key, m, async (rows, deleted) => void all.push([rows, deleted]), { signal });
  return store.write(async (tx) => {
    if (!(await isFresh(ctx, tx))) return undefined;
    for (const [rows, deleted] of all) await load(tx, rows, deleted);
    return finish(tx, counts);
  });
}

/** The history entry of a deleted row: the write that decided its liveness. */
export function tombstoneEntry(r: RecordRow): LogEntry {
  // A one-write row's every register is its `updated` (model/one-write.ts): its state is not built for this
  // (it would parse the fields' text again, per deleted row).
  const state = oneWriteText(r) === undefined ? (r.state as Record<string, { w?: string }>) : undefined;
  const stamp = (state && Object.hasOwn(state, ALIVE) ? state[ALIVE]!.w : undefined) || r.updated;
  return { collection: r.collection, id: r.id, stamp, device: stamp.length > 16 ? stampDevice(stamp) : '', kind: 'delete', fields: [] };
}
