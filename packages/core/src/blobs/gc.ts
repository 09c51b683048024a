/**
 * @module blobs/gc
 * Garbage collection of blobs: mark and sweep over the remote's
 * manifests and chunks, with a grace period.
 */
import { ErrorCode, KithError, isIntegrityError } from '../base/errors.js';
import type { EngineContext } from '../sync/context.js';
import { catchUpRegistry } from '../sync/catch-up.js';
import { blobKeys, type BlobManifest } from '../format/blob-format.js';
import { readHolds, sortHolds, u64 } from './holds.js';

export interface GcResult {
  /** Objects no record references, marked now (deleted by a later run after the grace period). */
  readonly marked: number;
  readonly deleted: number;
  readonly kept: number;
  readonly dryRun: boolean;
}

/** A reference must survive this long unreferenced before GC deletes it (see docs/FORMAT.md). */
export const DEFAULT_GC_GRACE_MS = 7 * 24 * 3600_000;

export interface GcOptions {
  readonly dryRun?: boolean;
  readonly graceMs?: number;
  readonly signal?: AbortSignal;
}

/**
 * Removes from the remote the blobs no record references. Mark and
 * sweep with a grace period: an unreferenced object is first marked
 * (`blobs/gc/...`); a later run deletes it only if it is still
 * unreferenced and the mark is older than `graceMs`. A blob some
 * device holds (see holds.ts: referenced by writes it has not pushed) is
 * live too. A device that pushes a reference to a deleted blob re-uploads
 * it from its cache first (see `Blobs.ensureUploaded`). Run on a device
 * that has pulled everything.
 */
export async function collectGarbage(
  ctx: EngineContext,
  referenced: () => Promise<ReadonlySet<string>>,
  manifestOf: (id: string, signal?: AbortSignal) => Promise<BlobManifest>,
  o: GcOptions = {},
  /** Chunks other objects than blobs need (snapshots): kept like live blobs' chunks. */
  alsoLive?: (signal?: AbortSignal) => Promise<ReadonlySet<string>>,
): Promise<GcResult> {
  const remote = ctx.remote;
  const now = ctx.deps.now();
  const grace = o.graceMs ?? DEFAULT_GC_GRACE_MS;
  const dry = o.dryRun === true;
  // A removed device must not collect; a device behind the registry learns the epochs live blobs are under.
  await catchUpRegistry(ctx, o.signal);
  const { held, drop } = await sortHolds(ctx, await readHolds(ctx, o.signal));
  const live = new Set([...(await referenced()), ...held]);
  if (!dry) for (const h of drop) await remote.delete(h.key);
  const marks = new Map<string, number>();
  for (const m of await remote.list(blobKeys.gcPrefix)) {
    const bytes = await remote.get(m.key);
    if (bytes && bytes.length === 8) marks.set(m.key.slice(blobKeys.gcPrefix.length), Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0)));
  }
  let marked = 0;
  let deleted = 0;
  let kept = 0;
  const liveChunks = new Set<string>(alsoLive ? await alsoLive(o.signal) : []);
  // Chunks a manifest left on the remote names: never deleted, even under an old mark. A new blob may reuse
  // chunks a dead one left marked; until its own manifest goes (a grace after its mark), they are its bytes.
  const named = new Set<string>();
  const sweep = async (name: string, key: string, isLive: boolean, keep = false): Promise<boolean> => {
    const markedAt = marks.get(name);
    if (isLive) {
      if (markedAt !== undefined && !dry) await remote.delete(blobKeys.gcMark(name));
      kept++;
      return false;
    }
    if (markedAt === undefined) {
      if (!dry) await remote.put(blobKeys.gcMark(name), u64(now));
      marked++;
      return false;
    }
    if (keep || now - markedAt < grace) {
      kept++;
      return false;
    }
    if (!dry) {
      await remote.delete(key);
      await remote.delete(blobKeys.gcMark(name));
    }
    deleted++;
    return true;
  };
  for (const m of await remote.list(blobKeys.manifestsPrefix)) {
    const id = m.key.slice(blobKeys.manifestsPrefix.length);
    const isLive = live.has(id);
    // A dead blob's chunks share its grace period: marked with it, deleted with it or after.
    if (await sweep(`m-${id}`, m.key, isLive)) continue; // deleted (or would be, in a dry run): its chunks are named by nothing
    // Only a manifest gone or damaged leaves its chunks to the sweep; any other failure stops the
    // run rather than have live chunks marked or named ones deleted.
    const manifest = await manifestOf(id, o.signal).catch((e: unknown) => {
      if (KithError.is(e, ErrorCode.NotFound) || isIntegrityError(e)) return undefined;
      throw e;
    });
    for (const [c] of manifest?.chunks ?? []) (isLive ? liveChunks : named).add(c);
  }
  for (const c of await remote.list(blobKeys.chunksPrefix)) {
    const id = c.key.slice(blobKeys.chunksPrefix.length);
    await sweep(`c-${id}`, c.key, liveChunks.has(id), named.has(id));
  }
  return { marked, deleted, kept, dryRun: dry };
}
