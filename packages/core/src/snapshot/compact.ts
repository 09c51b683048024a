/**
 * @module snapshot/compact
 * Compaction (docs/FORMAT.md "Compaction"): deletes from the remote the
 * segments every reader can do without, and snapshots no longer needed.
 *
 * Segment `s` of device `d` goes when (1) every snapshot that stays on the
 * remote covers it (V[d] ≥ s) and at least one of them is older than the
 * grace period, (2) every active device's signed head acknowledges it
 * (active: registered, not revoked, head signed within the horizon), and
 * (3) it is not `d`'s newest segment (the head's chain anchor). A revoked
 * device's chain, which ends at its revocation point and which no head
 * acknowledges, goes under (1) alone but for its last segment: a device
 * that had not applied it merges a snapshot instead. Requiring
 * every remaining snapshot to cover it, not just one, is what lets a
 * reader start from any of them: a reader that finds a segment missing
 * below a snapshot's V merges that snapshot; above every V it is withheld.
 * Snapshots: every one younger than the grace period and the newest two
 * older stay; older ones go, and blob GC then drops their chunks.
 */
import { isIntegrityError, ErrorCode, KithError } from '../base/errors.js';
import { remoteKeys, snapshotKeys, type Head, type SnapshotManifest } from '../format/index.js';
import { ownAcks } from '../sync/acks.js';
import type { EngineContext } from '../sync/context.js';
import { catchUpRegistry } from '../sync/catch-up.js';
import { readVerifiedHeads } from '../sync/remote-heads.js';
import { checkedManifest } from './bootstrap.js';
import { checkPolicy, type CompactionPolicy } from './compact-options.js';

/** Old snapshots kept beyond the grace period. */
const KEEP_OLD_SNAPSHOTS = 2;

export interface CompactOptions extends CompactionPolicy {
  /** Reports what would be deleted, deleting nothing. */
  readonly dryRun?: boolean;
  readonly signal?: AbortSignal;
  /** Objects deleted so far of the total planned. */
  readonly onProgress?: (p: { done: number; total: number }) => void;
}

/** What `vault.compact()` and `kith compact` report. */
export interface CompactResult {
  /** Objects deleted (with `dryRun`: that would be): segments and snapshot manifests. */
  readonly deleted: number;
  /** Segments and snapshot manifests that stay. */
  readonly kept: number;
  /** Bytes of the objects deleted (with `dryRun`: that would be). */
  readonly bytes: number;
}

/** One object to delete, with its size. */
interface Doomed {
  readonly key: string;
  readonly size: number;
}

export interface CompactionPlan {
  readonly segments: Doomed[];
  readonly snapshots: Doomed[];
  readonly kept: number;
  /** Per device, the highest seq deleted (or that would be). */
  readonly below: ReadonlyMap<string, number>;
}

/** The snapshots that pass every check a reader makes, newest first. */
async function validSnapshots(ctx: EngineContext, heads: ReadonlyMap<string, Head>, signal?: AbortSignal): Promise<(SnapshotManifest & Doomed)[]> {
  const listed = (await ctx.remote.list(snapshotKeys.prefix, signal ? { signal } : {})).filter((i) => snapshotKeys.parse(i.key) !== undefined);
  listed.sort((a, b) => (a.key < b.key ? 1 : -1));
  const out: (SnapshotManifest & Doomed)[] = [];
  for (const info of listed) {
    try {
      out.push({ ...(await checkedManifest(ctx, info.key, heads, signal)), key: info.key, size: info.size });
    } catch (e) {
      // One a reader would refuse counts for nothing and is left for `check` to report.
      if (!isIntegrityError(e) && !KithError.is(e, ErrorCode.NotFound) && !KithError.is(e, ErrorCode.UnsupportedFormat)) throw e;
    }
  }
  return out;
}

/** Works out what compaction deletes now; reads only. */
export async function planCompaction(ctx: EngineContext, o: CompactOptions = {}): Promise<CompactionPlan> {
  const { horizonMs, graceMs } = checkPolicy(o);
  const signal = o.signal;
  await catchUpRegistry(ctx, signal);
  const now = ctx.deps.now();
  // A head that does not verify acknowledges nothing: its device holds compaction back.
  const heads = await readVerifiedHeads(ctx, signal);
  const snapshots = await validSnapshots(ctx, heads, signal);
  const young = snapshots.filter((s) => s.at > now - graceMs);
  const old = snapshots.filter((s) => s.at <= now - graceMs);
  const staying = [...young, ...old.slice(0, KEEP_OLD_SNAPSHOTS)];
  const doomedSnapshots = old.slice(KEEP_OLD_SNAPSHOTS).map(({ key, size }) => ({ key, size }));

  // What every staying snapshot covers of each chain (none without an old one).
  const cover = new Map<string, number>();
  if (old.length > 0) {
    for (const [id] of ctx.registry.devices()) {
      cover.set(id, Math.min(...staying.map((s) => s.devices.find((d) => d.deviceId === id)?.seq ?? 0)));
    }
  }

  // Active devices and what each acknowledged; this device's own from its cursors (its head may lag them).
  const own = await ctx.store.read((tx) => ownAcks(tx, ctx.registry, ctx.deviceId));
  const active: ReadonlyMap<string, number>[] = [withSelf(own.applied, ctx.deviceId, Number.MAX_SAFE_INTEGER)];
  for (const [id, d] of ctx.registry.devices()) {
    if (id === ctx.deviceId || d.revoked) continue;
    const head = heads.get(id);
    if (!head) continue; // never pushed a head: nothing to hold back; it starts from a snapshot
    // A head without a time (version 1) cannot show its device gone: it stays active.
    if (head.at !== undefined && now - head.at > horizonMs) continue;
    active.push(withSelf(head.acks?.applied ?? new Map(), id, head.seq));
  }

  const segments: Doomed[] = [];
  const below = new Map<string, number>();
  let kept = staying.length;
  for (const [id, d] of ctx.registry.devices()) {
    const head = heads.get(id);
    if (!head) continue;
    // A revoked chain ends at its revocation point and no head acknowledges it: what the staying snapshots cover goes but
    // its last segment, which shows `check` (and any auditor) that the gap below it is compaction's, for one segment a device.
    const end = d.revoked ? Math.min(head.seq, d.revoked.lastSeq) : head.seq;
    const acked = d.revoked ? end : Math.min(...active.map((a) => a.get(id) ?? 0));
    const limit = Math.min(cover.get(id) ?? 0, acked, end - 1);
    const prefix = remoteKeys.segmentPrefix(id);
    for (const info of await ctx.remote.list(prefix, signal ? { signal } : {})) {
      const seq = Number(info.key.slice(prefix.length));
      if (Number.isSafeInteger(seq) && seq >= 1 && seq <= limit) segments.push({ key: info.key, size: info.size });
      else kept++;
    }
    if (limit > 0) below.set(id, limit);
  }
  return { segments, snapshots: doomedSnapshots, kept, below };
}

/** A device has applied its own chain up to its head. */
function withSelf(applied: ReadonlyMap<string, number>, id: string, seq: number): ReadonlyMap<string, number> {
  return new Map([...applied, [id, seq]]);
}

/**
 * Compacts the remote now (see the module comment); with `dryRun`, reports
 * only. Old snapshots go first, then segments, oldest first per device: a
 * crash at any point leaves a remote every reader can use, and nothing a
 * later run cannot find (segments first left old snapshots whose chain
 * check fails once the segment after them is gone, which no run deleted).
 */
export async function compactRemote(ctx: EngineContext, o: CompactOptions = {}): Promise<CompactResult> {
  const plan = await planCompaction(ctx, o);
  const doomed = [...plan.snapshots, ...plan.segments];
  const bytes = doomed.reduce((n, d) => n + d.size, 0);
  if (o.dryRun === true) return { deleted: doomed.length, kept: plan.kept, bytes };
  const opts = o.signal ? { signal: o.signal } : {};
  let done = 0;
  for (const d of doomed) {
    await ctx.remote.delete(d.key, opts);
    o.onProgress?.({ done: ++done, total: doomed.length });
  }
  return { deleted: doomed.length, kept: plan.kept, bytes };
}
