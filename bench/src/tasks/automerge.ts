/**
 * Automerge: one document with a map of records. Strings are
 * ImmutableString (atomic, last-writer-wins, like Kith's fields and Yjs's
 * map values) rather than collaborative text, which would charge Automerge
 * for per-character history no other contender keeps. Bootstrap is
 * save → load; catching up is the sync protocol.
 * @module
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as Automerge from '@automerge/automerge';
import { changed, records } from '../data.js';
import { check, peakRssMiB, time, WARM_N, type Task } from '../measure.js';

interface Note {
  title: Automerge.ImmutableString;
  body: Automerge.ImmutableString;
  done: boolean;
  n: number;
}
type Doc = { notes: Record<string, Note> };

/** Records go in as changes of 5,000: one 100,000-record change panics inside Automerge's WASM. */
const CHANGE_SIZE = 5000;

function build(n: number): Automerge.Doc<Doc> {
  let doc = Automerge.from<Doc>({ notes: {} });
  const recs = records(n);
  for (let i = 0; i < recs.length; i += CHANGE_SIZE) {
    doc = Automerge.change(doc, (d) => {
      for (const r of recs.slice(i, i + CHANGE_SIZE))
        d.notes[r.id] = { title: new Automerge.ImmutableString(r.title), body: new Automerge.ImmutableString(r.body), done: r.done, n: r.n };
    });
  }
  return doc;
}

/** Runs the sync protocol between two peers until neither has anything to send; returns the bytes exchanged. */
function syncPeers(a: Automerge.Doc<Doc>, b: Automerge.Doc<Doc>): { b: Automerge.Doc<Doc>; bytes: number } {
  let sa = Automerge.initSyncState();
  let sb = Automerge.initSyncState();
  let bytes = 0;
  for (let moved = true; moved;) {
    moved = false;
    let msg: Uint8Array | null;
    [sa, msg] = Automerge.generateSyncMessage(a, sa);
    if (msg) {
      bytes += msg.length;
      [b, sb] = Automerge.receiveSyncMessage(b, sb, msg);
      moved = true;
    }
    [sb, msg] = Automerge.generateSyncMessage(b, sb);
    if (msg) {
      bytes += msg.length;
      [a, sa] = Automerge.receiveSyncMessage(a, sa, msg);
      moved = true;
    }
  }
  return { b, bytes };
}

/** Bootstrap: load A's saved document on B and answer the query. */
async function bootstrap(saved: Uint8Array): Promise<{ b: Automerge.Doc<Doc>; ms: number; rssMiB: number }> {
  const [[b, hits], ms] = await time(() => {
    const doc = Automerge.load<Doc>(saved);
    let found = 0;
    for (const v of Object.values(doc.notes)) if (v.done && ++found >= 50) break;
    return [doc, found] as const;
  });
  check(hits > 0, 'automerge: query found nothing');
  return { b, ms, rssMiB: peakRssMiB() };
}

/**
 * Bootstrap, then A (loaded from the same save) edits 1,000 titles and B
 * catches up through the sync protocol. Editing a freshly loaded document
 * is where Automerge 3.5 is slow (superlinear in the edits), so the
 * orchestrator does not run this at 100,000 records.
 */
async function sync(n: number, saved: Uint8Array): Promise<{ ms: number; rssMiB: number; incMs: number; incBytes: number }> {
  const { b, ms, rssMiB } = await bootstrap(saved);
  const edits = changed(n);
  const a = Automerge.change(Automerge.load<Doc>(saved), (d) => edits.forEach((c) => (d.notes[c.id]!.title = new Automerge.ImmutableString(c.title))));
  const [synced, incMs] = await time(() => syncPeers(a, b));
  const last = edits.at(-1)!;
  check(String(synced.b.notes[last.id]?.title) === last.title, 'automerge: edit did not arrive');
  return { ms, rssMiB, incMs, incBytes: synced.bytes };
}

/** Automerge tasks: `prep` writes A's saved document; `sync` measures bootstrap and incremental; `bootstrap` only the first. */
export const tasks: Record<string, Task> = {
  async prep(n, dir) {
    writeFileSync(join(dir, 'automerge.bin'), Automerge.save(build(n)));
    writeFileSync(join(dir, 'automerge-warm.bin'), Automerge.save(build(WARM_N)));
    return {};
  },
  async sync(n, dir) {
    await sync(WARM_N, readFileSync(join(dir, 'automerge-warm.bin'))); // warm-up (compiles the WASM), unmeasured
    const saved = readFileSync(join(dir, 'automerge.bin'));
    const r = await sync(n, saved);
    return { bootstrapMs: r.ms, bootstrapBytes: saved.length, bootstrapRssMiB: r.rssMiB, incrementalMs: r.incMs, incrementalBytes: r.incBytes };
  },
  async bootstrap(_n, dir) {
    await bootstrap(readFileSync(join(dir, 'automerge-warm.bin')));
    const saved = readFileSync(join(dir, 'automerge.bin'));
    const r = await bootstrap(saved);
    return { bootstrapMs: r.ms, bootstrapBytes: saved.length, bootstrapRssMiB: r.rssMiB };
  },
};
