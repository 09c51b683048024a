/**
 * @module sync/repair
 * A device puts back what the remote lost of its own chain (a NAS restored
 * from an older backup, a bucket lifecycle rule, an operator's mistake).
 * Only the writer can: its segments carry random nonces and its signature,
 * and every later segment and its head chain to their exact bytes. So push
 * keeps each segment it uploads (`StoreTx.putOwnSegment`), and this module
 * re-uploads the kept bytes of whatever is missing and marks the head dirty
 * so the next push signs it again.
 *
 * Cost (S3 bills requests): the own head's etag is in the `heads/` listing
 * every pull makes anyway, and push learns the etag of the head it wrote
 * (one HEAD), so a missing, replaced or rolled-back own head costs nothing
 * to notice and one GET to confirm, shared with staleness (sync/own-head).
 * A segment lost below an intact head is invisible without listing
 * `segments/<own device>/` (one LIST per 1,000 segments): that audit runs
 * when the own head looks wrong, on the first pull that finds it never
 * ran, and then at most once per {@link AUDIT_INTERVAL_MS}, so an idle sync
 * stays O(1) requests and a lost middle segment is put back within a day.
 */
import { ErrorCode, KithError, isIntegrityError } from '../base/errors.js';
import { remoteKeys } from '../format/index.js';
import type { RemoteObjectInfo } from '../ports/remote.js';
import { PULL_BATCH, type EngineContext } from './context.js';
import { emptyPush, META, readMeta, writeMeta, type OwnChainMeta, type PushMeta } from '../ports/store-meta.js';
import type { OwnHeadLook, OwnHeadRead } from './own-head.js';
import { fetchSegments, openSegment } from './segments.js';
import { noteOwnHeadSeen } from './staleness.js';
import { snapshotCovers } from './snapshot-cover.js';

/** How often at most the own segments are listed while the own head looks right. */
export const AUDIT_INTERVAL_MS = 24 * 3600 * 1000;

const noChain: OwnChainMeta = { headEtag: '' };

/**
 * After push wrote the own head (segment `seq`, signed at `at`): remember
 * its etag, for repair and as seen by staleness, so the next listing tells
 * an unchanged head without a GET.
 */
export async function noteOwnHead(ctx: EngineContext, wrote: { seq: number; at: number }, signal?: AbortSignal): Promise<void> {
  let etag = '';
  try {
    etag = (await ctx.remote.head(remoteKeys.head(ctx.deviceId), signal ? { signal } : {}))?.etag ?? '';
  } catch (e) {
    // The push itself succeeded; an unknown etag only costs the next pull one GET of the head.
    if (KithError.is(e, ErrorCode.Aborted)) throw e;
  }
  await ctx.store.write(async (tx) => {
    const chain = (await readMeta<OwnChainMeta>(tx, META.ownChain)) ?? noChain;
    await writeMeta<OwnChainMeta>(tx, META.ownChain, { ...chain, headEtag: etag });
    if (etag !== '') await noteOwnHeadSeen(tx, ctx.deviceId, { etag, ...wrote });
  });
}

/** Whether repair must read the own head listed as `info`: something was published and the etag is not the one last written or verified. */
export function ownHeadUnverified(state: { pushed: PushMeta; chain: OwnChainMeta }, info: RemoteObjectInfo): boolean {
  return published(state.pushed) && info.etag !== state.chain.headEtag;
}

// A head is written once a segment or the registry position is.
const published = (push: PushMeta): boolean => push.seq !== 0 || push.registrySeq !== undefined;

/**
 * Judges this device's own head from the pull's one look at it and, when
 * it looks wrong or an audit is due, restores lost segments and marks the
 * head for the next push to write again.
 */
export async function repairOwnChain(ctx: EngineContext, look: OwnHeadLook, signal?: AbortSignal): Promise<void> {
  const { pushed: push, chain, info: listed } = look;
  if (!published(push)) return;
  let head: 'ok' | 'wrong' | 'ahead';
  if (!listed)
    head = push.registrySeq === undefined ? 'ok' : 'wrong'; // never written: push writes it anyway
  else if (listed.etag === chain.headEtag) head = 'ok';
  else head = verdict(look.read);
  // A head ahead of what this store pushed means this store is the older copy (restored from a backup):
  // repairing would write over newer history. Leave it alone.
  if (head === 'ahead') return;
  const now = ctx.deps.now();
  const due = head === 'wrong' || chain.auditedAt === undefined || now - chain.auditedAt >= AUDIT_INTERVAL_MS || now < chain.auditedAt;
  // A head just verified under a new etag is remembered, audit or not: the next pull then needs no GET.
  const verified = head === 'ok' && listed !== undefined && listed.etag !== chain.headEtag;
  if (!due && !verified) return;
  const audit = due ? await auditSegments(ctx, push.seq, signal) : undefined;
  await ctx.store.write(async (tx) => {
    if (head === 'wrong' || (audit?.restored ?? 0) > 0) {
      const p = (await readMeta<PushMeta>(tx, META.push)) ?? emptyPush;
      await writeMeta<PushMeta>(tx, META.push, { ...p, headDirty: true });
    }
    const c = (await readMeta<OwnChainMeta>(tx, META.ownChain)) ?? noChain;
    const headEtag = verified ? listed.etag : c.headEtag;
    const lost = audit?.lost ?? [];
    await writeMeta<OwnChainMeta>(tx, META.ownChain, audit ? { headEtag, auditedAt: now, ...(lost.length > 0 ? { lost } : {}) } : { ...c, headEtag });
  });
}

/** The own head whose etag changed: still what this store last pushed, behind it (or damaged, or gone), or ahead of it. */
function verdict(read: OwnHeadRead): 'ok' | 'wrong' | 'ahead' {
  switch (read.kind) {
    case 'absent':
    case 'damaged': // damaged or forged: ours to replace
      return 'wrong';
    case 'unread': // not reached: an unverified etag is always read
    case 'unknown-signer': // not in the registry we hold: pull refuses the vault elsewhere
      return 'ok';
    case 'head':
      if (read.vs.chain === 'ahead') return 'ahead';
      // The position is right but an older registry position counts as rolled back too.
      return read.vs.chain !== 'same' || read.vs.registryBehind ? 'wrong' : 'ok';
  }
}

/**
 * Lists the own segments 1..`through`, re-uploads the kept bytes of each
 * missing one, and keeps a verified copy of each present one this store
 * does not hold yet (segments pushed before segments were kept: a one-time
 * download that makes them restorable from then on).
 */
async function auditSegments(ctx: EngineContext, through: number, signal?: AbortSignal): Promise<{ restored: number; lost: number[] }> {
  const lost: number[] = [];
  let restored = 0;
  if (through === 0) return { restored, lost };
  const opts = signal ? { signal } : {};
  const prefix = remoteKeys.segmentPrefix(ctx.deviceId);
  const present = new Set<number>();
  for (const info of await ctx.remote.list(prefix, opts)) present.add(Number(info.key.slice(prefix.length)));
  const kept = new Set(await ctx.store.read((tx) => tx.listOwnSegments()));
  // Segments a snapshot covers may be gone on purpose (compaction; never the newest): left gone, their kept copies dropped.
  let compacted = 0;
  for (let seq = 1; seq < through && !present.has(seq); seq++) compacted = seq;
  if (compacted > 0) {
    compacted = Math.min(compacted, (await snapshotCovers(ctx, signal)).get(ctx.deviceId) ?? 0);
    if (compacted > 0) await ctx.store.write((tx) => tx.deleteOwnSegments(compacted));
  }
  const missing: number[] = [];
  const uncopied: number[] = [];
  for (let seq = compacted + 1; seq <= through; seq++) {
    if (!present.has(seq)) (kept.has(seq) ? missing : lost).push(seq);
    else if (!kept.has(seq)) uncopied.push(seq);
  }
  // Oldest first, so a reader never meets a restored segment whose predecessor is still missing.
  for (let i = 0; i < missing.length; i += PULL_BATCH) {
    const seqs = missing.slice(i, i + PULL_BATCH);
    const bytes = await ctx.store.read((tx) => tx.getOwnSegments(seqs));
    for (const seq of seqs) {
      signal?.throwIfAborted();
      const kept = bytes.get(seq);
      if (!kept) {
        lost.push(seq); // dropped since the listing (a snapshot covers it)
        continue;
      }
      await ctx.remote.put(remoteKeys.segment(ctx.deviceId, seq), kept, { ifAbsent: true, ...opts });
      restored++;
    }
  }
  const signPub = ctx.registry.deviceSignPub(ctx.deviceId);
  for (let i = 0; signPub && i < uncopied.length; i += PULL_BATCH) {
    const seqs = uncopied.slice(i, i + PULL_BATCH);
    const fetched = await fetchSegments(ctx, ctx.deviceId, seqs, signal);
    const good: [number, Uint8Array][] = [];
    for (const [j, seq] of seqs.entries()) {
      const bytes = fetched[j];
      if (!bytes) continue; // gone since the listing: the next audit sees it missing
      try {
        await openSegment(ctx, ctx.deviceId, signPub, seq, bytes);
        good.push([seq, bytes]);
      } catch (e) {
        if (!isIntegrityError(e)) throw e; // a damaged copy is not worth keeping; readers refuse it too
      }
    }
    await ctx.store.write(async (tx) => {
      for (const [seq, bytes] of good) await tx.putOwnSegment(seq, bytes);
    });
  }
  return { restored, lost };
}
