/**
 * The benchmark's records, the same for every contender: a title, a
 * ~200-character body, a boolean and a number, generated from a seed.
 * @module
 */

/** One benchmark record: its id and four fields. */
export interface NoteRecord {
  id: string;
  title: string;
  body: string;
  done: boolean;
  n: number;
}

/** A record's fields without its id, as every contender stores them. */
export type NoteFields = Omit<NoteRecord, 'id'>;

const WORDS = 'local first sync engine encrypted device vault segment remote merge clock conflict record field offline network'.split(' ');

/** The id of record `i`, fixed width so ids sort as numbers do. */
export const recordId = (i: number): string => `r${String(i).padStart(7, '0')}`;

/** `count` records from a xorshift generator seeded with `seed`, one at a time (so a million need not be held at once). */
export function* recordStream(count: number, seed = 1): Generator<NoteRecord> {
  let s = seed >>> 0 || 1;
  const rnd = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  for (let i = 0; i < count; i++) {
    let body = '';
    while (body.length < 200) body += WORDS[Math.floor(rnd() * WORDS.length)] + ' ';
    yield { id: recordId(i), title: `Note ${i}`, body: body.slice(0, 200), done: rnd() < 0.3, n: Math.floor(rnd() * 1e6) };
  }
}

/** `count` records from a xorshift generator seeded with `seed`: identical on every call. */
export function records(count: number, seed = 1): NoteRecord[] {
  return [...recordStream(count, seed)];
}

/** A record's fields without its id. */
export const fields = (r: NoteRecord): NoteFields => ({ title: r.title, body: r.body, done: r.done, n: r.n });

/** The edits of the incremental workload: new titles for 1,000 records spread evenly over `count` (all of them if fewer). */
export function changed(count: number): { id: string; title: string }[] {
  const step = Math.max(1, Math.floor(count / 1000));
  const out: { id: string; title: string }[] = [];
  for (let i = 0; i < count && out.length < 1000; i += step) out.push({ id: recordId(i), title: `Edited ${i}` });
  return out;
}
