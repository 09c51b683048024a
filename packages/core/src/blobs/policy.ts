/**
 * @module blobs/policy
 * This device's blob policy: what to fetch ahead of any read and how much
 * cache to keep (kept in the local store, never synced).
 */
import { ErrorCode, KithError } from '../base/errors.js';
import type { BlobCache } from '../ports/blob-cache.js';

export type PrefetchPolicy = 'none' | 'recent' | 'all';
const PREFETCH_POLICIES: readonly PrefetchPolicy[] = ['none', 'recent', 'all'];

/**
 * This device's policy for blobs it did not store itself: what to fetch
 * ahead of any read, and how much cache to keep. Kept in the local store,
 * never synced: a phone and a laptop of one vault want different ones.
 */
export interface BlobPolicy {
  /** Nothing; the blobs records changed in the last `recentDays` reference; or every referenced blob. */
  readonly prefetch: PrefetchPolicy;
  readonly recentDays: number;
  /**
   * Cache bytes to keep; the least recently used chunks go first. Absent: no limit. The chunks of blobs
   * this device's unpushed writes reference are never evicted, even past the limit: once another device's
   * GC collects such a blob they are the only copy left (see `Blobs.ensureUploaded`). See blobs/trim.ts.
   */
  readonly cacheBytes?: number;
}

export interface PrefetchResult {
  /** Chunks fetched into the cache. */
  readonly fetched: number;
  /** Chunks removed from the cache to keep within `cacheBytes`. */
  readonly evicted: number;
  /** Referenced blobs that could not be fetched (missing from the remote, or damaged there). */
  readonly unavailable: number;
}

export const DEFAULT_BLOB_POLICY: BlobPolicy = { prefetch: 'none', recentDays: 30 };

/** A policy change: fields left out (or undefined) stay as they are; `cacheBytes: null` removes the limit. */
export type BlobPolicyChange = {
  readonly prefetch?: PrefetchPolicy | undefined;
  readonly recentDays?: number | undefined;
  readonly cacheBytes?: number | null | undefined;
};

/** `p` with `change` applied, checked. */
export function withChange(p: BlobPolicy, change: BlobPolicyChange): BlobPolicy {
  const cacheBytes = change.cacheBytes === undefined ? p.cacheBytes : (change.cacheBytes ?? undefined);
  return checkPolicy({
    prefetch: change.prefetch ?? p.prefetch,
    recentDays: change.recentDays ?? p.recentDays,
    ...(cacheBytes === undefined ? {} : { cacheBytes }),
  });
}

export function checkPolicy(p: BlobPolicy): BlobPolicy {
  const bad = (what: string): never => {
    throw new KithError(ErrorCode.BadInput, `blob policy: ${what}`, {
      hint: 'prefetch is none, recent or all; recentDays a positive number; cacheBytes a whole number of bytes ≥ 0',
    });
  };
  if (!PREFETCH_POLICIES.includes(p.prefetch)) bad(`unknown prefetch ${JSON.stringify(p.prefetch)}`);
  if (!(typeof p.recentDays === 'number' && Number.isFinite(p.recentDays) && p.recentDays > 0))
    bad(`recentDays must be a positive number, not ${JSON.stringify(p.recentDays)}`);
  if (p.cacheBytes !== undefined && !(Number.isSafeInteger(p.cacheBytes) && p.cacheBytes >= 0))
    bad(`cacheBytes must be a whole number ≥ 0, not ${JSON.stringify(p.cacheBytes)}`);
  return p;
}

/** Whether applying `p` does anything: it prefetches or trims. */
export const policyActs = (p: BlobPolicy): boolean => p.prefetch !== 'none' || p.cacheBytes !== undefined;

/**
 * Removes the least recently used chunks from the cache until it holds at most `cacheBytes`; returns how many went.
 * `pinned` keys stay whatever their age (they count towards the limit, which they may exceed); `beforeEvict`
 * sees the chosen keys first and names those that must stay after all.
 */
export async function trimCache(
  cache: BlobCache,
  cacheBytes: number,
  o: { pinned?: ReadonlySet<string>; beforeEvict?: (keys: readonly string[]) => Promise<ReadonlySet<string>> } = {},
): Promise<number> {
  const pinned = o.pinned ?? new Set<string>();
  const chunks = (await cache.list()).filter((e) => e.key.startsWith('c/'));
  let total = chunks.reduce((n, e) => n + (pinned.has(e.key) ? e.size : 0), 0);
  const victims: string[] = [];
  for (const e of chunks.filter((c) => !pinned.has(c.key)).sort((a, b) => b.usedAt - a.usedAt)) {
    total += e.size;
    if (total > cacheBytes) victims.push(e.key);
  }
  const stay = victims.length > 0 && o.beforeEvict ? await o.beforeEvict(victims) : new Set<string>();
  let evicted = 0;
  for (const key of victims) {
    if (stay.has(key)) continue;
    await cache.delete(key);
    evicted++;
  }
  return evicted;
}
