/**
 * The physical floors: what this machine does with the same records and no
 * sync engine. (a) one SQLite transaction inserting N (id, json) rows;
 * (b) JSON → deflate-raw → AES-256-GCM through WebCrypto, and the reverse.
 * @module
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { fields, records } from '../data.js';
import { check, peakRssMiB, time, WARM_N, type Task } from '../measure.js';

/** The insert floor: one transaction of `n` (id, json) rows into a fresh file; returns its time in ms. */
export async function insert(n: number, file: string): Promise<[void, number]> {
  return [undefined, (await insertTimed(n, file)).ms];
}

/**
 * The insert floor's wall time and the process's CPU time over it (every
 * thread), in ms: on a shared machine the wall time includes waiting for a
 * core, the CPU time much less so.
 */
export async function insertTimed(n: number, file: string): Promise<{ ms: number; cpuMs: number }> {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE r (id TEXT PRIMARY KEY, json TEXT NOT NULL)');
  const rows = records(n).map((r) => [r.id, JSON.stringify(fields(r))] as const);
  const ins = db.prepare('INSERT INTO r VALUES (?, ?)');
  const tx = db.transaction(() => rows.forEach(([id, json]) => ins.run(id, json)));
  try {
    const [[, ms], cpuMs] = await cpuTime(() => time(() => tx()));
    return { ms, cpuMs };
  } finally {
    db.close();
  }
}

/** Runs `fn`; returns its result and the process's CPU time over it (user + system, every thread), in ms. */
export async function cpuTime<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const before = process.cpuUsage();
  const out = await fn();
  const used = process.cpuUsage(before);
  return [out, (used.user + used.system) / 1000];
}

async function pipe(bytes: Uint8Array<ArrayBuffer>, stream: ReadableWritablePair<Uint8Array<ArrayBuffer>, BufferSource>): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await new Response(new Blob([bytes]).stream().pipeThrough(stream)).arrayBuffer());
}

async function roundTrip(n: number): Promise<{ encryptMs: number; decryptMs: number; decryptCpuMs: number; sealedBytes: number }> {
  const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const recs = records(n);
  const [sealed, encryptMs] = await time(async () => {
    const plain = await pipe(new TextEncoder().encode(JSON.stringify(recs)), new CompressionStream('deflate-raw'));
    return new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, plain));
  });
  const [[back, decryptMs], decryptCpuMs] = await cpuTime(() =>
    time(async () => {
      const plain = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, key, sealed));
      return JSON.parse(new TextDecoder().decode(await pipe(plain, new DecompressionStream('deflate-raw')))) as unknown[];
    }),
  );
  check(back.length === n, 'floor: round trip lost records');
  return { encryptMs, decryptMs, decryptCpuMs, sealedBytes: sealed.length };
}

/** Floor tasks: `insert` (SQLite) and `crypto` (compress + encrypt and back), each after a small warm-up. */
export const tasks: Record<string, Task> = {
  async insert(n, dir) {
    await insert(WARM_N, join(dir, 'warm.db'));
    const { ms, cpuMs } = await insertTimed(n, join(dir, 'floor.db'));
    return { insertMs: ms, insertCpuMs: cpuMs, insertRssMiB: peakRssMiB() };
  },
  async crypto(n) {
    await roundTrip(WARM_N);
    return { ...(await roundTrip(n)), cryptoRssMiB: peakRssMiB() };
  },
};
