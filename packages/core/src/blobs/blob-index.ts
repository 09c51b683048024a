/**
 * @module blobs/blob-index
 * This device's list of blobs it stored or opened (store meta, never
 * synced): what `vault.blobs.list()` shows, and what cache trimming reads.
 */
import type { Store } from '../ports/store.js';
import type { BlobCache } from '../ports/blob-cache.js';
import { META, readMeta, writeMeta } from '../ports/store-meta.js';
import { formatBlobRef, type BlobManifest } from '../format/blob-format.js';
import type { BlobInfo } from './results.js';

/** Blobs this device has stored or opened, with how much of each is cached. */
export async function listBlobs(store: Store, cache: BlobCache | undefined): Promise<BlobInfo[]> {
  const index = await readIndex(store);
  const cached = new Map((await cache?.list())?.map((c) => [c.key, c.size]) ?? []);
  return Object.entries(index).map(([id, e]) => ({
    ref: formatBlobRef(id),
    size: e.size,
    chunks: e.chunks.length,
    ...(e.name ? { name: e.name } : {}),
    ...(e.type ? { type: e.type } : {}),
    cached: e.chunks.reduce((n, c) => n + (cached.get(`c/${c}`) ?? 0), 0),
  }));
}

export async function readIndex(store: Store): Promise<Record<string, IndexEntry>> {
  return (await store.read((tx) => readMeta<Record<string, IndexEntry>>(tx, META.blobs))) ?? {};
}

/** Records the blob in this device's list (`stored`: by this device's attach); `keep` leaves an entry already there as it is. */
export async function indexBlob(store: Store, now: () => number, id: string, m: BlobManifest, o: { keep?: boolean; stored?: boolean } = {}): Promise<void> {
  await store.write(async (tx) => {
    const index = (await readMeta<Record<string, IndexEntry>>(tx, META.blobs)) ?? {};
    if (o.keep && index[id]) return;
    index[id] = {
      size: m.size,
      chunks: m.chunks.map((c) => c[0]),
      ...(m.name ? { name: m.name } : {}),
      ...(m.type ? { type: m.type } : {}),
      at: now(),
      ...(o.stored ? { stored: true } : {}),
    };
    await writeMeta(tx, META.blobs, index);
  });
}

export interface IndexEntry {
  size: number;
  chunks: string[];
  name?: string;
  type?: string;
  at: number;
  /** Stored by this device's attach (not only opened): see trim.ts. */
  stored?: boolean;
}
