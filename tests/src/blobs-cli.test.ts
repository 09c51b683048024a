/**
 * Attachments through two real kith processes over a folder remote:
 * round trips up to 200 MB, dedup byte counts, tampered chunks,
 * kill -9 during upload and download, and the per-device blob policy.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { KITH_BIN, kith, kithJsonAsync as kithJson } from 'kith/testing';

type PutResult = { ref: string; size: number; chunks: number; uploaded: number };

let dir: string;
let remote: string;
let a: string;
let b: string;

/** Deterministic incompressible bytes (AES-CTR keystream). */
function noise(n: number, seed: number): Buffer {
  const key = Buffer.alloc(32);
  key.writeUInt32BE(seed);
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(n));
}
async function bigFile(path: string, mib: number, seed: number): Promise<void> {
  const key = Buffer.alloc(32);
  key.writeUInt32BE(seed);
  const c = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const out = createWriteStream(path);
  const zeros = Buffer.alloc(1 << 20);
  for (let i = 0; i < mib; i++) if (!out.write(c.update(zeros))) await new Promise<void>((r) => out.once('drain', () => r()));
  await new Promise<void>((r) => out.end(() => r()));
}
const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kith-blobs-'));
  remote = join(dir, 'remote');
  a = join(dir, 'a');
  b = join(dir, 'b');
  const { recoveryCode } = await kithJson<{ recoveryCode: string }>(a, ['init', '--remote', remote]);
  await kithJson(b, ['restore', '--remote', remote, '--recovery-code', recoveryCode]);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('round trips of empty, 1-byte, chunk-boundary and 200 MB files through two devices, byte-identical', { timeout: 300_000 }, async () => {
  const cases: [string, number][] = [
    ['empty', 0],
    ['one', 1],
    ['min', 256 * 1024],
    ['max', 4 * 1024 * 1024],
    ['max1', 4 * 1024 * 1024 + 1],
  ];
  for (const [name, size] of cases) writeFileSync(join(dir, name), noise(size, size + 7));
  await bigFile(join(dir, 'big'), 200, 99);
  cases.push(['big', 200 * 1024 * 1024]);
  for (const [name, size] of cases) {
    const put = await kithJson<PutResult>(a, ['blob', 'put', join(dir, name)]);
    assert.equal(put.size, size);
    await kithJson(a, ['put', 'files', name, JSON.stringify({ blob: put.ref })]);
    const got = await kithJson<{ size: number }>(b, ['blob', 'get', put.ref, '-o', join(dir, `${name}.out`)]);
    assert.equal(got.size, size);
    assert.equal(sha(join(dir, `${name}.out`)), sha(join(dir, name)), name);
  }
  await kithJson(a, ['sync']);
  await kithJson(b, ['sync']);
  const ref = (await kithJson<{ blob: string }>(b, ['get', 'files', 'one'])).blob;
  const stdout = await kith(b, ['blob', 'get', ref]);
  assert.equal(stdout.code, 0);
  assert.equal(stdout.stdout.length, 1);
});

test('dedup: the same file again uploads 0 bytes; one byte changed in the middle uploads only the chunks around it', { timeout: 120_000 }, async () => {
  const file = join(dir, 'dedup.bin');
  const data = noise(24 * 1024 * 1024, 5);
  writeFileSync(file, data);
  const first = await kithJson<PutResult>(a, ['blob', 'put', file]);
  assert.ok(first.uploaded >= data.length);
  const again = await kithJson<PutResult>(a, ['blob', 'put', file]);
  assert.equal(again.uploaded, 0);
  assert.equal(again.ref, first.ref);
  data[data.length / 2]! ^= 0xff;
  writeFileSync(file, data);
  const edited = await kithJson<PutResult>(a, ['blob', 'put', file]);
  assert.notEqual(edited.ref, first.ref);
  assert.ok(edited.uploaded <= 9 * 1024 * 1024, `uploaded ${edited.uploaded} of ${data.length} bytes`);
  assert.ok(edited.uploaded > 0);
});

test('a tampered or truncated chunk on the remote is refused, and no output file appears', { timeout: 60_000 }, async () => {
  const file = join(dir, 'tamper.bin');
  writeFileSync(file, noise(6 * 1024 * 1024, 6));
  const chunkDir = join(remote, 'blobs', 'chunks');
  const before = new Set(readdirSync(chunkDir));
  const { ref } = await kithJson<PutResult>(a, ['blob', 'put', file]);
  const target = readdirSync(chunkDir)
    .filter((f) => !before.has(f))
    .map((f) => join(chunkDir, f))
    .find((p) => readFileSync(p).length > 100_000)!;
  const good = readFileSync(target);
  for (const bad of [good.subarray(0, good.length - 100), Buffer.from(good.map((x, i) => (i === 5000 ? x ^ 1 : x)))]) {
    writeFileSync(target, bad);
    const out = join(dir, 'tampered.out');
    const r = await kith(b, ['blob', 'get', ref, '-o', out]);
    assert.equal(r.code, 1);
    assert.match(r.stderr.trim(), /^kith: .*corrupt.*\(KITH_INTEGRITY_CORRUPT\)$/);
    assert.ok(!existsSync(out), 'nothing written as if it were good');
  }
  writeFileSync(target, good);
  const ok = await kith(b, ['blob', 'get', ref, '-o', join(dir, 'tampered.out')]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(sha(join(dir, 'tampered.out')), sha(file));
});

test('kill -9 during upload and download: resumes without re-sending stored chunks; no corrupt file left', { timeout: 180_000 }, async () => {
  const file = join(dir, 'resume.bin');
  await bigFile(file, 120, 77);
  // Killed once a few chunks are stored, whatever the machine's speed (the file has ~120 of them).
  const chunkFiles = (): number => (existsSync(join(remote, 'blobs', 'chunks')) ? readdirSync(join(remote, 'blobs', 'chunks')).length : 0);
  const before = chunkFiles();
  const killed = await kith(a, ['blob', 'put', file, '--json'], { killWhen: () => chunkFiles() >= before + 8 });
  assert.equal(killed.signal, 'SIGKILL', 'the upload was still running when killed');
  const stored = chunkFiles();
  const resumed = await kithJson<PutResult>(a, ['blob', 'put', file]);
  assert.ok(resumed.uploaded < resumed.size, `resumed upload sent ${resumed.uploaded} of ${resumed.size} bytes`);
  assert.ok(readdirSync(join(remote, 'blobs', 'chunks')).length > stored);
  const out = join(dir, 'resume.out');
  const killedGet = await kith(b, ['blob', 'get', resumed.ref, '-o', out, '--json'], {
    killWhen: () => existsSync(`${out}.kith-partial`) && statSync(`${out}.kith-partial`).size > 4 << 20,
  });
  assert.equal(killedGet.signal, 'SIGKILL');
  assert.ok(!existsSync(out) || sha(out) === sha(file), 'a file under the real name is complete, never partial');
  const done = await kith(b, ['blob', 'get', resumed.ref, '-o', out, '--json']);
  assert.equal(done.code, 0, done.stderr);
  assert.equal(sha(out), sha(file));
});

test('blob policy: a device set to prefetch fetches on sync and reads offline; ls, gc --dry-run and bad values', { timeout: 120_000 }, async () => {
  // A vault of its own, so the blobs of the tests above are not prefetched here.
  const remote2 = join(dir, 'remote2');
  const [c, d] = [join(dir, 'c'), join(dir, 'd')];
  const { recoveryCode } = await kithJson<{ recoveryCode: string }>(c, ['init', '--remote', remote2]);
  await kithJson(d, ['restore', '--remote', remote2, '--recovery-code', recoveryCode]);
  assert.deepEqual(await kithJson(d, ['blob', 'policy']), { prefetch: 'none', recentDays: 30 });
  const bad = await kith(d, ['blob', 'policy', '--prefetch', 'some']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr.trim(), /^kith: the prefetch policy is none, recent or all, not "some" \(KITH_USAGE\)$/);
  assert.equal((await kith(d, ['blob', 'policy', '--cache-mb', '8', '--no-cache-limit'])).code, 2);
  assert.deepEqual(await kithJson(d, ['blob', 'policy', '--prefetch', 'all', '--cache-mb', '64']), {
    prefetch: 'all',
    recentDays: 30,
    cacheBytes: 64 * 1024 * 1024,
  });

  const file = join(dir, 'photo.bin');
  writeFileSync(file, noise(3 * 1024 * 1024, 81));
  const photo = await kithJson<PutResult>(c, ['blob', 'put', file]);
  writeFileSync(join(dir, 'loose.bin'), noise(1000, 82));
  await kithJson<PutResult>(c, ['blob', 'put', join(dir, 'loose.bin')]); // referenced by no record
  await kithJson(c, ['put', 'notes', 'n1', JSON.stringify({ photo: photo.ref })]);
  const pushed = await kithJson<Record<string, unknown>>(c, ['sync']);
  assert.ok(!('blobs' in pushed), 'a device whose policy does nothing fetches nothing');
  const synced = await kithJson<{ pulled: number; blobs?: { fetched: number; evicted: number; unavailable: number } }>(d, ['sync']);
  assert.ok(synced.pulled >= 1);
  assert.ok(synced.blobs && synced.blobs.fetched >= 1 && synced.blobs.unavailable === 0, JSON.stringify(synced));

  // The remote's chunks gone: the prefetched blob still reads, from the cache.
  const chunks = join(remote2, 'blobs', 'chunks');
  renameSync(chunks, join(dir, 'chunks.away'));
  try {
    const out = join(dir, 'photo.out');
    await kithJson(d, ['blob', 'get', photo.ref, '-o', out]);
    assert.equal(sha(out), sha(file));
  } finally {
    renameSync(join(dir, 'chunks.away'), chunks);
  }
  const listed = await kithJson<{ ref: string; size: number; cached: number }[]>(d, ['blob', 'ls']);
  assert.deepEqual(
    listed.map((b) => [b.ref, b.size]),
    [[photo.ref, 3 * 1024 * 1024]],
  );
  assert.ok(listed[0]!.cached >= 3 * 1024 * 1024);

  // A dry run reports what it would mark and writes nothing.
  const dry = await kithJson<{ marked: number; dryRun: boolean }>(d, ['blob', 'gc', '--dry-run']);
  assert.ok(dry.dryRun && dry.marked >= 2, JSON.stringify(dry));
  assert.ok(!existsSync(join(remote2, 'blobs', 'gc')), 'no marks written');
  assert.deepEqual(await kithJson(d, ['blob', 'policy', '--prefetch', 'none', '--no-cache-limit']), { prefetch: 'none', recentDays: 30 });
  // A prefetch that fails for another reason (here the local cache cannot be written) is a warning: the sync succeeded.
  await kithJson(d, ['blob', 'policy', '--prefetch', 'all']);
  const unwritable = join(dir, 'unwritable.bin');
  writeFileSync(unwritable, noise(200_000, 83)); // under the least chunk size: one chunk
  const late = await kithJson<PutResult>(c, ['blob', 'put', unwritable]);
  await kithJson(c, ['put', 'notes', 'n2', JSON.stringify({ photo: late.ref }), '--sync']);
  const cacheChunks = join(d, 'blobs', 'packs');
  renameSync(cacheChunks, join(dir, 'cache.away'));
  writeFileSync(cacheChunks, 'not a directory');
  try {
    const warned = await kith(d, ['sync', '--json']);
    assert.equal(warned.code, 0, warned.stderr);
    const result = JSON.parse(warned.stdout) as Record<string, unknown>;
    assert.ok((result['pulled'] as number) >= 1 && !('blobs' in result), warned.stdout);
    assert.match(warned.stderr.trim(), /^kith: .* \(blob prefetch; the sync itself succeeded\)$/);
  } finally {
    rmSync(cacheChunks);
    renameSync(join(dir, 'cache.away'), cacheChunks);
  }
  await kithJson(d, ['blob', 'policy', '--prefetch', 'none']);
  // `blob prefetch` options override the policy for one run.
  // `all` fetches the one chunk the failed run left behind.
  assert.deepEqual(await kithJson(d, ['blob', 'prefetch', '--policy', 'all']), { fetched: 1, evicted: 0, unavailable: 0 });
  const trimmed = await kithJson<{ evicted: number }>(d, ['blob', 'prefetch', '--cache-mb', '1']);
  assert.ok(trimmed.evicted >= 1, JSON.stringify(trimmed));
  const after = await kithJson<{ ref: string; cached: number }[]>(d, ['blob', 'ls']);
  assert.ok(after.find((b) => b.ref === photo.ref)!.cached < 3 * 1024 * 1024, JSON.stringify(after));
});

test('on a terminal, blob put and get draw a progress bar; with --json they do not', { timeout: 60_000 }, () => {
  // `script` (util-linux) runs the command with a pseudo-terminal as its stdin, stdout and stderr.
  const onTerminal = (args: string[]): { status: number | null; screen: string } => {
    const command = [process.execPath, KITH_BIN, '--home', a, ...args].map((x) => `'${x}'`).join(' ');
    const r = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8' });
    return { status: r.status, screen: r.stdout };
  };
  const file = join(dir, 'bar.bin');
  writeFileSync(file, noise(12 * 1024 * 1024, 91));
  const put = onTerminal(['blob', 'put', file]);
  assert.equal(put.status, 0, put.screen);
  assert.match(put.screen, /uploading \[[^\]]*\] 100% 12\/12 MiB/);
  const ref = /kith:blob:[0-9a-f]{64}/.exec(put.screen)![0];
  const get = onTerminal(['blob', 'get', ref, '-o', join(dir, 'bar.out')]);
  assert.equal(get.status, 0, get.screen);
  assert.match(get.screen, /downloading \[[^\]]*\] 100% 12\/12 MiB/);
  assert.equal(sha(join(dir, 'bar.out')), sha(file));
  const quiet = onTerminal(['blob', 'get', ref, '-o', join(dir, 'bar2.out'), '--json']);
  assert.equal(quiet.status, 0, quiet.screen);
  assert.doesNotMatch(quiet.screen, /downloading/);
  assert.deepEqual(JSON.parse(quiet.screen.trim()), { ok: true, ref, size: 12 * 1024 * 1024, file: join(dir, 'bar2.out') });
});
