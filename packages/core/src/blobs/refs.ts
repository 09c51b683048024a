/**
 * @module blobs/refs
 * Which blobs records reference: refs are strings inside record fields
 * (and ops), found wherever they sit in the JSON.
 */
import type { JsonValue } from '../model/json.js';
import { stampTime } from '../model/hlc.js';
import type { Store } from '../ports/store.js';
import { isBlobRef, parseBlobRef } from '../format/blob-format.js';

/** Blob refs inside some JSON (ops' fields), as manifest ids. */
export function refsIn(v: JsonValue | undefined, out = new Set<string>()): Set<string> {
  if (isBlobRef(v)) out.add(parseBlobRef(v));
  else if (Array.isArray(v)) for (const x of v) refsIn(x, out);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) refsIn(x, out);
  return out;
}

/** Refs held by live records (every collection), optionally only records updated since `since` (ms). */
export async function referencedBlobs(store: Store, since?: number): Promise<Set<string>> {
  const refs = new Set<string>();
  await store.read(async (tx) => {
    for (const collection of await tx.listCollections()) {
      let after: string | null | undefined;
      do {
        const page = await tx.query({ collection, limit: 1000, ...(after ? { after } : {}) });
        for (const row of page.rows) if (since === undefined || stampMs(row.updated) >= since) refsIn(row.fields, refs);
        after = page.next;
      } while (after);
    }
  });
  return refs;
}

function stampMs(stamp: string): number {
  return stamp.length >= 13 ? stampTime(stamp) : 0;
}
