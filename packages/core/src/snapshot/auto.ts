/**
 * @module snapshot/auto
 * Snapshots written as history accumulates: after a sync, when the
 * segments this device has applied exceed those the newest snapshot covers
 * by `segments`, it writes one. One LIST and, when a newer snapshot than
 * the last known appears, one GET; nothing at all while the count is below
 * the threshold of the last known snapshot.
 */
import { snapshotKeys } from '../format/index.js';
import { emptyPush, META, readMeta, writeMeta, type Cursor, type PushMeta } from '../ports/store-meta.js';
import type { EngineContext } from '../sync/context.js';
import { openSnapshotManifest } from '../sync/snapshot-cover.js';
import type { ChunkStore } from './chunks.js';
import { writeSnapshot, type SnapshotResult } from './write.js';

import type { SnapshotEvery } from './options.js';

/** Store meta entry: the newest snapshot this device knows of and the segments it covers. */
const SNAPSHOT_META = 'snapshot.newest';
interface NewestMeta {
  key: string;
  segments: number;
}

/** Segments this device has applied, its own included. */
async function appliedSegments(ctx: EngineContext): Promise<number> {
  return ctx.store.read(async (tx) => {
    let n = ((await readMeta<PushMeta>(tx, META.push)) ?? emptyPush).seq;
    for (const [deviceId] of ctx.registry.devices()) if (deviceId !== ctx.deviceId) n += (await readMeta<Cursor>(tx, META.cursor(deviceId)))?.seq ?? 0;
    return n;
  });
}

/** Remembers a snapshot as the newest known. */
export async function noteSnapshot(ctx: EngineContext, key: string, segments: number): Promise<void> {
  await ctx.store.write((tx) => writeMeta<NewestMeta>(tx, SNAPSHOT_META, { key, segments }));
}

/** Writes a snapshot if enough history accumulated since the newest one; `push` runs first if local writes are pending. */
export async function maybeSnapshot(
  ctx: EngineContext,
  chunks: ChunkStore,
  every: SnapshotEvery,
  push: () => Promise<unknown>,
  signal?: AbortSignal,
): Promise<SnapshotResult | undefined> {
  if (every === false || !(every.segments > 0)) return undefined;
  const applied = await appliedSegments(ctx);
  let newest = await ctx.store.read((tx) => readMeta<NewestMeta>(tx, SNAPSHOT_META));
  if (applied - (newest?.segments ?? 0) < every.segments) return undefined;
  const last = snapshotKeys.newestFirst(await ctx.remote.list(snapshotKeys.prefix, signal ? { signal } : {}))[0];
  if (last !== undefined && last !== newest?.key) {
    const segments = (await openSnapshotManifest(ctx, last, signal))?.devices.reduce((n, d) => n + d.seq, 0);
    if (segments !== undefined) {
      newest = { key: last, segments };
      await noteSnapshot(ctx, last, segments);
    }
  }
  if (applied - (newest?.segments ?? 0) < every.segments) return undefined;
  const result = await writeSnapshot(ctx, chunks, push, signal);
  await noteSnapshot(ctx, result.snapshot, result.segments);
  return result;
}

/**
 * The chunks the remote's snapshots need, for blob GC to keep. Any failure
 * but a snapshot that does not open stops GC, so that no needed chunk is
 * ever marked.
 */
export async function snapshotChunkIds(ctx: EngineContext, signal?: AbortSignal): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const info of await ctx.remote.list(snapshotKeys.prefix, signal ? { signal } : {})) {
    if (!snapshotKeys.parse(info.key)) continue;
    for (const c of (await openSnapshotManifest(ctx, info.key, signal))?.chunks ?? []) ids.add(c.id);
  }
  return ids;
}
