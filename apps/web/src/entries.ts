/**
 * The journal's records: entries in the collection `entries`, each with a
 * title, text, a date, tags, and photos. A photo is a blob (the original
 * file, uploaded once) referenced from the entry, with a small JPEG
 * thumbnail kept in the record itself so lists show without fetching blobs.
 * Records written elsewhere (the CLI, an older app) may lack fields; they
 * are read with defaults.
 */
import type { Doc, JsonObject } from '@kith/core';

export const ENTRIES = 'entries';

export interface Photo {
  /** The blob's ref (`kith:blob:…`). */
  readonly ref: string;
  readonly name: string;
  readonly type: string;
  readonly size: number;
  /** A small JPEG as a data URL, or '' when the file is no image the browser can decode. */
  readonly thumb: string;
}

export interface Entry {
  readonly id: string;
  readonly title: string;
  readonly text: string;
  /** YYYY-MM-DD. */
  readonly date: string;
  readonly tags: readonly string[];
  readonly photos: readonly Photo[];
}

const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v));

/** An entry from a record, whatever wrote it. */
export function entryOf(doc: Doc): Entry {
  const tags = Array.isArray(doc['tags']) ? doc['tags'].filter((t): t is string => typeof t === 'string') : [];
  const photos = Array.isArray(doc['photos'])
    ? doc['photos'].flatMap((p): Photo[] => {
        if (!p || typeof p !== 'object' || Array.isArray(p) || typeof p['ref'] !== 'string') return [];
        return [{ ref: p['ref'], name: str(p['name']), type: str(p['type']), size: typeof p['size'] === 'number' ? p['size'] : 0, thumb: str(p['thumb']) }];
      })
    : [];
  const date = typeof doc['date'] === 'string' ? doc['date'] : '';
  return { id: doc.id, title: str(doc['title']), text: str(doc['text'] ?? doc['body']), date, tags, photos };
}

/** The fields an entry is stored as. */
export function fieldsOf(e: Omit<Entry, 'id'>): JsonObject {
  return {
    title: e.title,
    text: e.text,
    date: e.date,
    tags: [...e.tags],
    photos: e.photos.map((p) => ({ ref: p.ref, name: p.name, type: p.type, size: p.size, thumb: p.thumb })),
  };
}

/** Tags as typed: comma or space separated, without `#`, lower case, each once. */
export function parseTags(s: string): string[] {
  return [
    ...new Set(
      s
        .split(/[,\s]+/)
        .map((t) => t.replace(/^#/, '').trim().toLowerCase())
        .filter((t) => t !== ''),
    ),
  ];
}

/** Entries matching the search text (title, text, tags) and the tag, newest date first. */
export function filterEntries(entries: readonly Entry[], search: string, tag: string): Entry[] {
  const words = search.toLowerCase().split(/\s+/).filter(Boolean);
  return entries
    .filter((e) => tag === '' || e.tags.includes(tag))
    .filter((e) => {
      const hay = `${e.title}\n${e.text}\n${e.tags.join(' ')}`.toLowerCase();
      return words.every((w) => hay.includes(w));
    })
    .sort((a, b) => (a.date === b.date ? a.title.localeCompare(b.title) : a.date < b.date ? 1 : -1));
}

export function today(): string {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

export function newEntryId(): string {
  return `e-${Date.now().toString(36)}-${crypto.getRandomValues(new Uint32Array(1))[0]!.toString(36)}`;
}
