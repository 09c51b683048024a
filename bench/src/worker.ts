/**
 * One measurement in its own process (so peak RSS is this contender's
 * alone): `node worker.js TASK N DIR`. Prints one JSON object. Setup tasks
 * (prefixed `prep-`) prepare state in DIR for a measured task that follows.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { copyFileSync, createReadStream, mkdirSync, readFileSync, statSync, writeFileSync, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import * as Y from 'yjs';
import * as Automerge from '@automerge/automerge';
import { aesGcmDecrypt, aesGcmEncrypt, compress, decompress, Vault, type Remote } from '@kith/core';
import { openFolderRemote } from '@kith/folder';
import { openFsBlobCache, openSqliteStore } from '@kith/sqlite';
import { changed, records, type NoteRecord } from './data.js';

const [task, nArg, dir] = process.argv.slice(2) as [string, string, string];
const N = Number(nArg);
const peakMiB = (): number => Math.round(process.resourceUsage().maxRSS / 1024);
const emit = (o: object): void => void process.stdout.write(JSON.stringify({ ...o, rssMiB: peakMiB() }) + '\n');
const time = async <T>(fn: () => Promise<T> | T): Promise<[T, number]> => {
  const t = performance.now();
  const r = await fn();
  return [r, performance.now() - t];
};
const fields = (r: NoteRecord) => ({ title: r.title, body: r.body, done: r.done, n: r.n });
const kithState = () => JSON.parse(readFileSync(join(dir, 'kith.json'), 'utf8')) as { code: string; remote: string };

async function openRemote(url: string): Promise<Remote> {
  if (url.startsWith('s3://')) {
    const { openS3Remote } = await import('@kith/s3');
    return openS3Remote(url);
  }
  return openFolderRemote(url, { create: true });
}

const tasks: Record<string, () => Promise<void>> = {
  // ---- Kith: device A fills and pushes; device B (measured) bootstraps, then catches up.
  async 'prep-kith'() {
    const remoteUrl = process.env['KITH_BENCH_REMOTE'] ?? join(dir, 'remote');
    const remote = await openRemote(remoteUrl);
    const { vault, recoveryCode } = await Vault.create({ store: await openSqliteStore(join(dir, 'a', 'kith.db')), remote, remoteUrl });
    const recs = records(N);
    await vault.batch((b) => recs.forEach((r) => b.put('notes', r.id, fields(r))));
    const [, pushMs] = await time(() => vault.push());
    writeFileSync(join(dir, 'kith.json'), JSON.stringify({ code: recoveryCode, remote: remoteUrl }));
    emit({ pushMs, bytesSent: remote.stats.bytesSent, requests: remote.stats.puts + remote.stats.gets + remote.stats.lists + remote.stats.heads });
    await vault.close();
  },
  async 'kith-bootstrap'() {
    const s = kithState();
    const remote = await openRemote(s.remote);
    const [vault, ms] = await time(async () => {
      const v = await Vault.restore({ store: await openSqliteStore(join(dir, 'b', 'kith.db')), remote, remoteUrl: s.remote, recoveryCode: s.code });
      await v.pull();
      return v;
    });
    const [hits, queryMs] = await time(async () => (await vault.list('notes', { where: { done: true }, limit: 50 })).records.length);
    if (hits === 0) throw new Error('query found nothing');
    const st = remote.stats;
    emit({ ms, queryMs, bytes: st.bytesReceived, requests: st.puts + st.gets + st.lists + st.heads });
    await vault.close();
  },
  async 'prep-kith-incremental'() {
    const s = kithState();
    const vault = await Vault.open({ store: await openSqliteStore(join(dir, 'a', 'kith.db')), remote: await openRemote(s.remote) });
    await vault.batch((b) => changed(N).forEach((c) => b.patch('notes', c.id, { title: c.title })));
    await vault.push();
    emit({});
    await vault.close();
  },
  async 'kith-incremental'() {
    const s = kithState();
    const remote = await openRemote(s.remote);
    const vault = await Vault.open({ store: await openSqliteStore(join(dir, 'b', 'kith.db')), remote });
    const [r, ms] = await time(() => vault.pull());
    if (r.pulled !== changed(N).length) throw new Error(`pulled ${r.pulled}`);
    emit({ ms, bytes: remote.stats.bytesReceived, requests: remote.stats.gets + remote.stats.lists });
    await vault.close();
  },

  // ---- Yjs: a Y.Map of Y.Maps (per-field merge, the fair equivalent).
  async 'prep-yjs'() {
    const doc = new Y.Doc();
    const notes = doc.getMap<Y.Map<unknown>>('notes');
    doc.transact(() => {
      for (const r of records(N)) {
        const m = new Y.Map<unknown>();
        for (const [k, v] of Object.entries(fields(r))) m.set(k, v);
        notes.set(r.id, m);
      }
    });
    writeFileSync(join(dir, 'yjs-a.bin'), Y.encodeStateAsUpdate(doc));
    emit({});
  },
  async 'yjs-bootstrap'() {
    const update = readFileSync(join(dir, 'yjs-a.bin'));
    const doc = new Y.Doc();
    const [hits, ms] = await time(() => {
      Y.applyUpdate(doc, update);
      let n = 0;
      for (const m of doc.getMap<Y.Map<unknown>>('notes').values()) if (m.get('done') === true && ++n >= 50) break;
      return n;
    });
    if (hits === 0) throw new Error('query found nothing');
    writeFileSync(join(dir, 'yjs-b.bin'), Y.encodeStateAsUpdate(doc));
    emit({ ms, bytes: update.length });
  },
  async 'yjs-incremental'() {
    const a = new Y.Doc();
    Y.applyUpdate(a, readFileSync(join(dir, 'yjs-a.bin')));
    const b = new Y.Doc();
    Y.applyUpdate(b, readFileSync(join(dir, 'yjs-b.bin')));
    const notes = a.getMap<Y.Map<unknown>>('notes');
    a.transact(() => changed(N).forEach((c) => notes.get(c.id)!.set('title', c.title)));
    const [bytes, ms] = await time(() => {
      const diff = Y.encodeStateAsUpdate(a, Y.encodeStateVector(b));
      Y.applyUpdate(b, diff);
      return diff.length;
    });
    emit({ ms, bytes });
  },

  // ---- Automerge: save → load; incremental through the sync protocol.
  async 'prep-automerge'() {
    let doc = Automerge.from<{ notes: Record<string, ReturnType<typeof fields>> }>({ notes: {} });
    const recs = records(N);
    // One huge change panics inside Automerge's WASM at 100,000 records; batches of 5,000 do not.
    for (let i = 0; i < recs.length; i += 5000) {
      doc = Automerge.change(doc, (d) => {
        for (const r of recs.slice(i, i + 5000)) d.notes[r.id] = fields(r);
      });
    }
    writeFileSync(join(dir, 'am-a.bin'), Automerge.save(doc));
    emit({});
  },
  async 'automerge-bootstrap'() {
    const bytes = readFileSync(join(dir, 'am-a.bin'));
    const [hits, ms] = await time(() => {
      const doc = Automerge.load<{ notes: Record<string, { done: boolean }> }>(bytes);
      writeFileSync(join(dir, 'am-b.bin'), Automerge.save(doc));
      let n = 0;
      for (const v of Object.values(doc.notes)) if (v.done && ++n >= 50) break;
      return n;
    });
    if (hits === 0) throw new Error('query found nothing');
    emit({ ms, bytes: bytes.length });
  },
  async 'automerge-incremental'() {
    type Doc = { notes: Record<string, { title: string }> };
    let a = Automerge.load<Doc>(readFileSync(join(dir, 'am-a.bin')));
    let b = Automerge.load<Doc>(readFileSync(join(dir, 'am-b.bin')));
    a = Automerge.change(a, (d) => changed(N).forEach((c) => (d.notes[c.id]!.title = c.title)));
    const [bytes, ms] = await time(() => {
      let sa = Automerge.initSyncState();
      let sb = Automerge.initSyncState();
      let total = 0;
      for (let round = 0; round < 20; round++) {
        let msg: Uint8Array | null;
        let moved = false;
        [sa, msg] = Automerge.generateSyncMessage(a, sa);
        if (msg) {
          total += msg.length;
          [b, sb] = Automerge.receiveSyncMessage(b, sb, msg);
          moved = true;
        }
        [sb, msg] = Automerge.generateSyncMessage(b, sb);
        if (msg) {
          total += msg.length;
          [a, sa] = Automerge.receiveSyncMessage(a, sa, msg);
          moved = true;
        }
        if (!moved) break;
      }
      return total;
    });
    emit({ ms, bytes });
  },

  // ---- Floors: what the hardware does with the same data and no sync engine.
  async 'floor-insert'() {
    const db = new Database(join(dir, 'floor.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec('CREATE TABLE r (id TEXT PRIMARY KEY, json TEXT)');
    const rows = records(N).map((r) => [r.id, JSON.stringify(fields(r))] as const);
    const ins = db.prepare('INSERT INTO r VALUES (?, ?)');
    const [, ms] = await time(() => db.transaction(() => rows.forEach((r) => ins.run(r[0], r[1])))());
    db.close();
    emit({ ms });
  },
  async 'floor-crypto'() {
    const key = randomBytes(32);
    const nonce = randomBytes(12);
    const recs = records(N);
    const [ct, encryptMs] = await time(async () => aesGcmEncrypt(key, nonce, await compress(new TextEncoder().encode(JSON.stringify(recs))), new Uint8Array(0)));
    const [back, decryptMs] = await time(async () => JSON.parse(new TextDecoder().decode(await decompress(await aesGcmDecrypt(key, nonce, ct, new Uint8Array(0)), 1 << 30))) as unknown[]);
    if (back.length !== N) throw new Error('floor round trip');
    emit({ encryptMs, decryptMs, bytes: ct.length });
  },

  // ---- Local writes on a vault of N records.
  async 'kith-local'() {
    const vault = (await Vault.create({ store: await openSqliteStore(join(dir, 'l', 'kith.db')), remote: await openFolderRemote(join(dir, 'lremote'), { create: true }), remoteUrl: 'x' })).vault;
    const recs = records(N);
    const [, batchMs] = await time(() => vault.batch((b) => recs.forEach((r) => b.put('notes', r.id, fields(r)))));
    const lat = async (k: number, fn: (i: number) => Promise<unknown>) => {
      const out: number[] = [];
      for (let i = 0; i < k; i++) {
        const t = performance.now();
        await fn(i);
        out.push(performance.now() - t);
      }
      out.sort((x, y) => x - y);
      return { p50: out[Math.floor(k / 2)]!, p99: out[Math.floor(k * 0.99)]! };
    };
    const put = await lat(500, (i) => vault.put('single', `s${i}`, { title: 'x', n: i }));
    const get = await lat(500, (i) => vault.get('notes', recs[(i * 7919) % N]!.id));
    const list = await lat(100, (i) => vault.list('notes', { where: { done: i % 2 === 0 }, limit: 50 }));
    emit({ batchPerSec: Math.round(N / (batchMs / 1000)), putP50: put.p50, putP99: put.p99, getP50: get.p50, listP50: list.p50 });
    await vault.close();
  },

  // ---- Blobs: attach and fetch N MiB, against copy + AES-GCM over the same bytes.
  async 'blob-floor'() {
    const file = join(dir, 'blob.bin');
    const key = randomBytes(32);
    const [, ms] = await time(async () => {
      copyFileSync(file, join(dir, 'blob.copy'));
      const c = createCipheriv('aes-256-gcm', key, randomBytes(12));
      for await (const chunk of createReadStream(join(dir, 'blob.copy'), { highWaterMark: 1 << 20 })) c.update(chunk as Buffer);
      c.final();
    });
    emit({ ms, mibPerSec: N / (ms / 1000) });
  },
  async 'prep-blob'() {
    const out = createWriteStream(join(dir, 'blob.bin'));
    const c = createCipheriv('aes-256-ctr', randomBytes(32), randomBytes(16));
    const zeros = Buffer.alloc(1 << 20);
    for (let i = 0; i < N; i++) if (!out.write(c.update(zeros))) await new Promise<void>((r) => out.once('drain', () => r()));
    await new Promise<void>((r) => out.end(() => r()));
    emit({});
  },
  async 'blob-roundtrip'() {
    const remote = await openFolderRemote(join(dir, 'bremote'), { create: true });
    const { vault, recoveryCode } = await Vault.create({ store: await openSqliteStore(join(dir, 'ba', 'kith.db')), remote, remoteUrl: 'x', blobCache: openFsBlobCache(join(dir, 'ba', 'blobs')) });
    const [put, putMs] = await time(() => vault.blobs.put(createReadStream(join(dir, 'blob.bin'), { highWaterMark: 1 << 20 })));
    const reader = await Vault.restore({ store: await openSqliteStore(join(dir, 'bb', 'kith.db')), remote: await openFolderRemote(join(dir, 'bremote')), remoteUrl: 'x', recoveryCode, blobCache: openFsBlobCache(join(dir, 'bb', 'blobs')) });
    const [size, getMs] = await time(async () => {
      const r = reader.blobs.get(put.ref).getReader();
      const out = createWriteStream(join(dir, 'blob.out'));
      let n = 0;
      for (;;) {
        const { done, value } = await r.read();
        if (done) break;
        n += value.length;
        if (!out.write(value)) await new Promise<void>((res) => out.once('drain', () => res()));
      }
      await new Promise<void>((res) => out.end(() => res()));
      return n;
    });
    if (size !== statSync(join(dir, 'blob.bin')).size) throw new Error('blob size');
    emit({ putMs, getMs, putMiBs: N / (putMs / 1000), getMiBs: N / (getMs / 1000) });
    await vault.close();
    await reader.close();
  },
};

mkdirSync(dir, { recursive: true });
const fn = tasks[task];
if (!fn) throw new Error(`unknown task ${task}`);
await fn();
