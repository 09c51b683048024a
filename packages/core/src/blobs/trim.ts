/**
 * @module blobs/trim
 * Trimming the cache to the policy's `cacheBytes` without losing a blob
 * this device attached and has not pushed a reference to. Another device's
 * GC deletes a blob no pushed record references once its mark is past the
 * grace; the push that carries the reference then restores it from this
 * device's cache (`Blobs.ensureUploaded`), so that copy must still be there.
 */
import type { EngineContext } from '../sync/context.js';
import type { BlobCache } from '../ports/blob-cache.js';
import { DEFAULT_GC_GRACE_MS } from './gc.js';
import { outboxRefs } from './holds.js';
import { trimCache } from './policy.js';

/** What trimming needs of an entry of this device's blob list. */
export interface ListedBlob {
  readonly chunks: readonly string[];
  /** When it was listed (ms). */
  readonly at: number;
  /** Stored by this device's attach, not only opened here. */
  readonly stored?: boolean;
}

/**
 * Trims the cache to `cacheBytes`; returns how many chunks went. Chunks of
 * blobs the outbox references are kept whatever the limit (pinned until
 * pushed). Chunks of a blob this device attached within the grace, which
 * a write not made yet may reference, go only once `hold` has written a
 * hold on it (GC then keeps the blob while a write references it unpushed,
 * see holds.ts); if it cannot (offline), they stay.
 */
export async function trimKeepingUnpushed(
  ctx: EngineContext,
  cache: BlobCache,
  cacheBytes: number,
  listed: Readonly<Record<string, ListedBlob>>,
  hold: (manifestId: string) => Promise<void>,
  signal?: AbortSignal,
): Promise<number> {
  const unpushed = await outboxRefs(ctx);
  const since = ctx.deps.now() - DEFAULT_GC_GRACE_MS;
  const pinned = new Set<string>();
  /** Chunk key → the recent attaches naming it. */
  const attached = new Map<string, string[]>();
  for (const [id, e] of Object.entries(listed)) {
    const recent = e.stored === true && e.at >= since;
    for (const c of e.chunks) {
      const key = `c/${c}`;
      if (unpushed.has(id)) pinned.add(key);
      else if (recent) attached.set(key, [...(attached.get(key) ?? []), id]);
    }
  }
  const beforeEvict = async (keys: readonly string[]): Promise<ReadonlySet<string>> => {
    const stay = new Set<string>();
    for (const id of new Set(keys.flatMap((k) => attached.get(k) ?? []))) {
      try {
        await hold(id);
      } catch (e) {
        if (signal?.aborted) throw e;
        for (const k of keys) if (attached.get(k)?.includes(id)) stay.add(k);
      }
    }
    return stay;
  };
  return trimCache(cache, cacheBytes, { pinned, beforeEvict });
}
