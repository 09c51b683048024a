/**
 * @module snapshot/merge
 * A device that already holds state but finds segments it still needs
 * deleted by compaction (it was away past the horizon) merges the newest
 * snapshot that is ahead of its cursors into its store, as remote writes:
 * each record is joined (model/join) with what the snapshot's vector says
 * the snapshot had applied, the cursors move up to V, and the ordinary
 * pull goes on with the tail. Its unpushed writes stay in the outbox and
 * in its records and are pushed afterwards as the writes they are; a
 * record it still holds but the snapshot's writer had deleted (even with
 * the tombstone no longer in the snapshot) goes, because every write it
 * holds of it is one the snapshot had applied. The checks on the snapshot
 * are bootstrap's.
 */
import { hex } from '@scure/base';
import { ErrorCode, KithError, isIntegrityError } from '../base/errors.js';
import { snapshotKeys, type SnapshotManifest } from '../format/index.js';
import { HybridClock, stampDevice, stampLocal } from '../model/hlc.js';
import { joinRows } from '../model/join.js';
import type { RecordRow } from '../model/merge.js';
import type { LogEntry, StoreTx } from '../ports/store.js';
import { META, readMeta, writeMeta, type Cursor } from '../ports/store-meta.js';
import type { EngineContext } from '../sync/context.js';
import { catchUpRegistry } from '../sync/catch-up.js';
import { readVerifiedHeads } from '../sync/remote-heads.js';
import { checkedManifest, readRows, tombstoneEntry } from './bootstrap.js';
import type { ChunkStore } from './chunks.js';
import { readAllRows } from './state.js';

export interface MergeOutcome {
  /** The snapshot merged, if one was ahead of this device's cursors. */
  readonly applied?: { key: string; collections: string[] };
  /** Whether the remote lists any snapshot (valid or not: one whose next segment is withheld fails its checks too). */
  readonly anyListed: boolean;
}

/** Rows written per store call. */
const WRITE_BATCH = 1000;

/** The cursors this store holds, by device. */
async function cursorsOf(ctx: EngineContext, tx: StoreTx): Promise<Map<string, Cursor>> {
  const out = new Map<string, Cursor>();
  for (const [deviceId] of ctx.registry.devices()) {
    const c = await readMeta<Cursor>(tx, META.cursor(deviceId));
    if (c) out.set(deviceId, c);
  }
  return out;
}

/** Whether `m` covers some other device's chain further than this store applied it. */
const aheadOf = (ctx: EngineContext, m: SnapshotManifest, cursors: ReadonlyMap<string, Cursor>): boolean =>
  m.devices.some((d) => d.deviceId !== ctx.deviceId && d.seq > (cursors.get(d.deviceId)?.seq ?? 0));

/** Merges the newest valid snapshot ahead of this store's cursors; does nothing when none is. */
export async function mergeSnapshot(ctx: EngineContext, chunks: ChunkStore, signal?: AbortSignal): Promise<MergeOutcome> {
  const listed = snapshotKeys.newestFirst(await ctx.remote.list(snapshotKeys.prefix, signal ? { signal } : {}));
  if (listed.length === 0) return { anyListed: false };
  await catchUpRegistry(ctx, signal);
  const heads = await readVerifiedHeads(ctx, signal);
  const cursors = await ctx.store.read((tx) => cursorsOf(ctx, tx));
  for (const key of listed) {
    let m: SnapshotManifest;
    try {
      m = await checkedManifest(ctx, key, heads, signal);
    } catch (e) {
      if (!isIntegrityError(e) && !KithError.is(e, ErrorCode.NotFound) && !KithError.is(e, ErrorCode.UnsupportedFormat)) throw e;
      continue;
    }
    if (!aheadOf(ctx, m, cursors)) continue;
    const rows = await readRows(chunks, key, m, signal);
    const collections = await joinInto(ctx, m, rows);
    return { applied: { key, collections }, anyListed: true };
  }
  return { anyListed: true };
}

/** Joins the snapshot's rows into the store and moves the cursors up to V, in one transaction. */
async function joinInto(ctx: EngineContext, m: SnapshotManifest, rows: RecordRow[]): Promise<string[]> {
  const covered = new Map(m.devices.map((d) => [d.deviceId, d.stamp] as const));
  const snapApplied = (stamp: string): boolean => {
    const max = covered.get(stampDevice(stamp));
    return max !== undefined && max !== '' && stamp <= max;
  };
  return ctx.store.write(async (tx) => {
    const cursors = await cursorsOf(ctx, tx);
    const localApplied = (stamp: string): boolean => {
      const device = stampDevice(stamp);
      if (device === ctx.deviceId) return true;
      const max = cursors.get(device)?.stamp;
      return max !== undefined && max !== '' && stamp <= max;
    };
    const key = (r: { collection: string; id: string }): string => `${r.collection}\u0000${r.id}`;
    const local = new Map((await readAllRows(tx)).map((r) => [key(r), r] as const));
    const snap = new Map(rows.map((r) => [key(r), r] as const));
    const out: RecordRow[] = [];
    const log: LogEntry[] = [];
    const changed = new Set<string>();
    for (const k of new Set([...local.keys(), ...snap.keys()])) {
      const mine = local.get(k);
      const theirs = snap.get(k);
      const { collection, id } = (mine ?? theirs)!;
      const joined = joinRows(collection, id, { row: mine, applied: localApplied }, { row: theirs, applied: snapApplied });
      const row = joined ?? { collection, id, fields: {}, deleted: true, state: {}, conflicted: false, updated: mine?.updated ?? '' };
      if (mine && JSON.stringify(row) === JSON.stringify(mine)) continue;
      out.push(row);
      changed.add(collection);
      // A row deleted here enters the history: it is how the next snapshot written here finds it.
      if (joined && row.deleted && !mine?.deleted) log.push(tombstoneEntry(row));
    }
    for (let i = 0; i < out.length; i += WRITE_BATCH) await tx.putRecords(out.slice(i, i + WRITE_BATCH));
    for (let i = 0; i < log.length; i += WRITE_BATCH) await tx.appendLog(log.slice(i, i + WRITE_BATCH));
    const clock = new HybridClock(ctx.deps.now, (await readMeta<{ last: string }>(tx, META.hlc))?.last);
    for (const d of m.devices) {
      if (d.deviceId === ctx.deviceId || d.seq <= (cursors.get(d.deviceId)?.seq ?? 0)) continue;
      await writeMeta<Cursor>(tx, META.cursor(d.deviceId), { seq: d.seq, hash: hex.encode(d.hash), stamp: d.stamp, etag: '' });
      if (d.stamp !== '') clock.observe(stampLocal(d.stamp));
    }
    await writeMeta(tx, META.hlc, { last: clock.last });
    return [...changed];
  });
}
