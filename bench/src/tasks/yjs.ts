/**
 * Yjs: one Y.Doc holding a Y.Map 'notes' of one Y.Map per record, so
 * fields merge one by one as Kith's do (field values are plain, atomic
 * values). Bootstrap is encodeStateAsUpdate → applyUpdate into a fresh doc;
 * catching up is a state-vector diff.
 * @module
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as Y from 'yjs';
import { changed, fields, records } from '../data.js';
import { check, peakRssMiB, time, WARM_N, type Task } from '../measure.js';

type Notes = Y.Map<Y.Map<unknown>>;

function build(n: number): Y.Doc {
  const doc = new Y.Doc();
  const notes: Notes = doc.getMap('notes');
  doc.transact(() => {
    for (const r of records(n)) {
      const m = new Y.Map<unknown>();
      for (const [k, v] of Object.entries(fields(r))) m.set(k, v);
      notes.set(r.id, m);
    }
  });
  return doc;
}

/** The query every contender answers after bootstrap: up to 50 records that are done. */
function query(doc: Y.Doc): number {
  let hits = 0;
  for (const m of doc.getMap<Y.Map<unknown>>('notes').values()) if (m.get('done') === true && ++hits >= 50) break;
  return hits;
}

/** Bootstrap B from A's update, then A edits and B catches up through a state-vector diff. */
async function sync(n: number, update: Uint8Array): Promise<{ ms: number; rssMiB: number; incMs: number; incBytes: number }> {
  const b = new Y.Doc();
  const [hits, ms] = await time(() => {
    Y.applyUpdate(b, update);
    return query(b);
  });
  check(hits > 0, 'yjs: query found nothing');
  const rssMiB = peakRssMiB();
  const a = new Y.Doc();
  Y.applyUpdate(a, update);
  const notes: Notes = a.getMap('notes');
  const edits = changed(n);
  a.transact(() => edits.forEach((c) => notes.get(c.id)!.set('title', c.title)));
  const [incBytes, incMs] = await time(() => {
    const vector = Y.encodeStateVector(b);
    const diff = Y.encodeStateAsUpdate(a, vector);
    Y.applyUpdate(b, diff);
    return vector.length + diff.length;
  });
  const last = edits.at(-1)!;
  check(b.getMap<Y.Map<unknown>>('notes').get(last.id)?.get('title') === last.title, 'yjs: edit did not arrive');
  return { ms, rssMiB, incMs, incBytes };
}

/** Yjs tasks: `prep` writes A's full update; `sync` measures bootstrap and incremental. */
export const tasks: Record<string, Task> = {
  async prep(n, dir) {
    writeFileSync(join(dir, 'yjs.bin'), Y.encodeStateAsUpdate(build(n)));
    return {};
  },
  async sync(n, dir) {
    await sync(WARM_N, Y.encodeStateAsUpdate(build(WARM_N))); // warm-up, unmeasured
    const update = readFileSync(join(dir, 'yjs.bin'));
    const r = await sync(n, update);
    return { bootstrapMs: r.ms, bootstrapBytes: update.length, bootstrapRssMiB: r.rssMiB, incrementalMs: r.incMs, incrementalBytes: r.incBytes };
  },
};
