import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertError, KITH_BIN, kith, kithJson, kithJsonAsync, runKith, serveRelay } from './testing/index.js';

type Doc = { id: string; [k: string]: unknown };

/** Every record of every collection a home lists, sorted, for comparing two vaults. */
function allRecords(home: string, collections: readonly string[]): Record<string, Doc[]> {
  return Object.fromEntries(collections.map((c) => [c, kithJson<Doc[]>(home, ['ls', c])]));
}

describe('kith export', () => {
  let dir: string;
  let a: string;
  let photo: Buffer;
  let note: Buffer;
  let refs: string[];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kith-cli-export-'));
    a = join(dir, 'a');
    kithJson(a, ['init', '--remote', join(dir, 'remote-a'), '--name', 'laptop']);
    // 5 MiB of noise (several chunks) and a small text file.
    photo = randomBytes(5 * 1024 * 1024 + 17);
    note = Buffer.from('a small attachment\n');
    writeFileSync(join(dir, 'photo.jpg'), photo);
    writeFileSync(join(dir, 'note.txt'), note);
    refs = [join(dir, 'photo.jpg'), join(dir, 'note.txt')].map((f) => kithJson<{ ref: string }>(a, ['blob', 'put', f]).ref);
    const notes = [
      { id: 'n1', title: 'one', nested: { deep: [1, 2, { x: null }] } },
      { id: 'n2', title: 'ünïcödé ✓', __proto__field: true },
      { id: 'with space', title: 'odd id', photo: refs[0] },
    ];
    kithJson(a, ['import', 'notes', '-'], notes.map((n) => JSON.stringify(n)).join('\n'));
    kithJson(a, ['put', 'tasks', 't1', JSON.stringify({ done: false, attachment: refs[1], constructor: 'a field named like a prototype member' })]);
    kithJson(a, ['put', 'gone', 'g1', '{"x":1}']);
    kithJson(a, ['rm', 'gone', 'g1']);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('export then import into a new vault gives the same records, and blob files byte-identical', () => {
    const out = join(dir, 'export');
    const r = kithJson<{ collections: number; records: number; blobs: number }>(a, ['export', out]);
    assert.deepEqual(r, { collections: 2, records: 4, blobs: 2 });
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as {
      format: string;
      version: number;
      vaultId: string;
      collections: { name: string; file: string; records: number }[];
      blobs: { ref: string; file: string; size: number; sha256: string; name?: string }[];
    };
    assert.equal(manifest.format, 'kith-export');
    assert.equal(manifest.version, 1);
    assert.deepEqual(
      manifest.collections.map((c) => [c.name, c.file, c.records]),
      [
        ['notes', 'collections/notes.jsonl', 3],
        ['tasks', 'collections/tasks.jsonl', 1],
      ],
    );
    assert.deepEqual(readdirSync(join(out, 'collections')).sort(), ['notes.jsonl', 'tasks.jsonl'], 'a collection with only deleted records is not exported');
    const byRef = new Map(manifest.blobs.map((b) => [b.ref, b]));
    for (const [ref, bytes] of [
      [refs[0]!, photo],
      [refs[1]!, note],
    ] as const) {
      const b = byRef.get(ref)!;
      const file = readFileSync(join(out, b.file));
      assert.ok(file.equals(bytes), `${b.file} holds the blob's bytes`);
      assert.equal(b.size, bytes.length);
      assert.equal(b.sha256, createHash('sha256').update(bytes).digest('hex'));
    }
    // Re-import into a new vault, line files as they are.
    const b = join(dir, 'b');
    kithJson(b, ['init', '--remote', join(dir, 'remote-b')]);
    for (const c of manifest.collections) kithJson(b, ['import', c.name, join(out, c.file)]);
    assert.deepEqual(allRecords(b, ['notes', 'tasks']), allRecords(a, ['notes', 'tasks']));
    assert.equal(kithJson<Doc>(b, ['get', 'tasks', 't1'])['constructor'], 'a field named like a prototype member');
  });

  test('a non-empty directory is refused, and nothing is written into it', () => {
    const out = join(dir, 'busy');
    mkdirSync(out);
    writeFileSync(join(out, 'keep.txt'), 'mine');
    assertError(runKith(a, ['export', out]), 1, 'KITH_BAD_INPUT');
    assert.deepEqual(readdirSync(out), ['keep.txt']);
  });
});

/** `kith pair --yes` on `inviter` while `joiner` joins through `remote`; resolves once both are done. */
async function pairNewDevice(inviter: string, joiner: string, remote: string): Promise<void> {
  const pair = spawn(process.execPath, [KITH_BIN, '--home', inviter, 'pair', '--yes', '--json', '--timeout', '120']);
  const exit = new Promise<number | null>((resolve) => pair.on('close', resolve));
  let out = '';
  pair.stdout.setEncoding('utf8');
  pair.stderr.resume();
  const first = await new Promise<string>((resolve) =>
    pair.stdout.on('data', (d: string) => {
      out += d;
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    }),
  );
  const { code } = JSON.parse(first) as { code: string };
  await kithJsonAsync(joiner, ['join', code, '--remote', remote, '--name', 'rejoined']);
  assert.equal(await exit, 0);
}

describe('kith backup and kith restore --from-backup', () => {
  let dir: string;
  let a: string;
  let code: string;
  let photo: Buffer;
  let photoRef: string;
  const collections = ['notes', 'tasks'];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kith-cli-backup-'));
    a = join(dir, 'a');
    code = kithJson<{ recoveryCode: string }>(a, ['init', '--remote', join(dir, 'remote-a'), '--name', 'laptop']).recoveryCode;
    photo = randomBytes(5 * 1024 * 1024 + 3);
    writeFileSync(join(dir, 'photo.bin'), photo);
    photoRef = kithJson<{ ref: string }>(a, ['blob', 'put', join(dir, 'photo.bin')]).ref;
    const notes = Array.from({ length: 1500 }, (_, i) => ({ id: `n${i}`, title: `note ${i}`, tags: ['a', i % 7] }));
    kithJson(a, ['import', 'notes', '-'], notes.map((n) => JSON.stringify(n)).join('\n'));
    kithJson(a, ['put', 'tasks', 't1', JSON.stringify({ photo: photoRef, __proto__: 'a field, not a prototype' }), '--sync']);
    kithJson(a, ['put', 'tasks', 't2', '{"done":true}']);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('backup → restore onto a new folder remote: same records, same blobs; a second device joins by pairing and syncs', async () => {
    const file = join(dir, 'full.kbk');
    const r = kithJson<{ file: string; bytes: number; records: number; blobs: number }>(a, ['backup', file]);
    assert.equal(r.file, file);
    assert.equal(r.records, 1502);
    assert.equal(r.blobs, 1);
    assert.equal(r.bytes, readFileSync(file).length);
    assert.ok(!readFileSync(file).includes(Buffer.from('note 1')), 'records are encrypted');
    const remote = join(dir, 'remote-restored');
    const home = join(dir, 'restored');
    const restored = kithJson<{ vaultId: string; deviceId: string; blobsIncluded: boolean }>(home, [
      'restore',
      '--from-backup',
      file,
      '--remote',
      remote,
      '--recovery-code',
      code,
      '--name',
      'restored',
    ]);
    assert.equal(restored.vaultId, kithJson<{ vaultId: string }>(a, ['status']).vaultId, 'the same vault id');
    assert.equal(restored.blobsIncluded, true);
    assert.deepEqual(allRecords(home, collections), allRecords(a, collections));
    const out = join(dir, 'photo-restored.bin');
    kithJson(home, ['blob', 'get', photoRef, '-o', out]);
    assert.ok(readFileSync(out).equals(photo), 'the blob is byte-identical');
    // The registry came back: the old devices are listed, the restored one added by the recovery key.
    const devices = kithJson<{ name: string; addedBy: string; current: boolean }[]>(home, ['devices']);
    assert.deepEqual(devices.map((d) => d.name).sort(), ['laptop', 'restored']);
    assert.equal(devices.find((d) => d.current)?.addedBy, 'recovery');
    // Another device rejoins by pairing, and syncs everything.
    const phone = join(dir, 'phone');
    await pairNewDevice(home, phone, remote);
    kithJson(phone, ['sync']);
    assert.deepEqual(allRecords(phone, collections), allRecords(a, collections));
    const out2 = join(dir, 'photo-phone.bin');
    kithJson(phone, ['blob', 'get', photoRef, '-o', out2]);
    assert.ok(readFileSync(out2).equals(photo));
    // The recovery code still opens the restored vault.
    kithJson(join(dir, 'by-code'), ['restore', '--remote', remote, '--recovery-code', code]);
    kithJson(join(dir, 'by-code'), ['sync']);
    assert.deepEqual(allRecords(join(dir, 'by-code'), collections), allRecords(a, collections));
  });

  test('an incremental backup after more writes restores to the newest state; a missing chain file is named', () => {
    const full = join(dir, 'chain-full.kbk');
    const b = join(dir, 'a-second-device');
    kithJson(b, ['restore', '--remote', join(dir, 'remote-a'), '--recovery-code', code]);
    kithJson(a, ['sync']);
    kithJson(a, ['backup', full]);
    // Written on another device after the full backup, pulled here before the incremental one.
    kithJson(b, ['put', 'notes', 'from-b', '{"title":"written elsewhere"}', '--sync']);
    kithJson(a, ['pull']);
    kithJson(a, ['put', 'notes', 'n1', '{"title":"changed"}']);
    kithJson(a, ['rm', 'notes', 'n2']);
    kithJson(a, ['put', 'notes', 'new', '{"title":"new"}']);
    const note = Buffer.from('an attachment added later\n');
    writeFileSync(join(dir, 'later.txt'), note);
    const laterRef = kithJson<{ ref: string }>(a, ['blob', 'put', join(dir, 'later.txt')]).ref;
    kithJson(a, ['put', 'tasks', 't3', JSON.stringify({ file: laterRef })]);
    const inc = join(dir, 'chain-inc.kbk');
    const r = kithJson<{ records: number; blobs: number; bytes: number }>(a, ['backup', inc, '--incremental', full]);
    assert.equal(r.records, 5, 'only the changed records: from-b, n1, n2 (deleted), new, t3');
    assert.equal(r.blobs, 1, 'only the new blob');
    assert.ok(r.bytes < readFileSync(full).length / 10);
    const home = join(dir, 'restored-inc');
    const remote = join(dir, 'remote-inc');
    kithJson(home, ['restore', '--from-backup', inc, '--remote', remote, '--recovery-code', code]);
    assert.deepEqual(allRecords(home, collections), allRecords(a, collections));
    assert.equal(kithJson<Doc[]>(home, ['ls', 'notes']).length, 1501);
    const out = join(dir, 'later-restored.txt');
    kithJson(home, ['blob', 'get', laterRef, '-o', out]);
    assert.ok(readFileSync(out).equals(note));
    kithJson(home, ['blob', 'get', photoRef, '-o', join(dir, 'photo-inc.bin')]);
    assert.ok(readFileSync(join(dir, 'photo-inc.bin')).equals(photo), 'a blob from the full backup of the chain');
    // Without the full backup beside it, the error names the missing file, and nothing is made.
    const lonely = join(dir, 'lonely');
    mkdirSync(lonely);
    writeFileSync(join(lonely, 'inc.kbk'), readFileSync(inc));
    const restoreLonely = (): ReturnType<typeof runKith> =>
      runKith(join(dir, 'no-chain'), ['restore', '--from-backup', join(lonely, 'inc.kbk'), '--remote', join(dir, 'remote-no-chain'), '--recovery-code', code]);
    const missing = restoreLonely();
    assertError(missing, 1, 'KITH_NOT_FOUND');
    assert.match(missing.stderr, /chain-full\.kbk/);
    assert.ok(!existsSync(join(dir, 'remote-no-chain', 'vault')));
    // Another file under that name is not the one the chain names.
    kithJson(a, ['backup', join(lonely, 'chain-full.kbk'), '--no-blobs']);
    const wrong = restoreLonely();
    assertError(wrong, 1, 'KITH_INTEGRITY_CORRUPT');
    assert.ok(!existsSync(join(dir, 'remote-no-chain', 'vault')));
  });

  test('after a revocation (a new key epoch): the restore reads blobs of the old epoch and records of the new one', () => {
    const c = join(dir, 'to-revoke');
    const { deviceId } = kithJson<{ deviceId: string }>(c, ['restore', '--remote', join(dir, 'remote-a'), '--recovery-code', code]);
    kithJson(a, ['devices', 'revoke', deviceId]);
    kithJson(a, ['put', 'notes', 'after-revoke', '{"title":"epoch 1"}', '--sync']);
    const file = join(dir, 'after-revoke.kbk');
    kithJson(a, ['backup', file]);
    const home = join(dir, 'restored-after-revoke');
    kithJson(home, ['restore', '--from-backup', file, '--remote', join(dir, 'remote-after-revoke'), '--recovery-code', code]);
    assert.deepEqual(allRecords(home, collections), allRecords(a, collections));
    kithJson(home, ['blob', 'get', photoRef, '-o', join(dir, 'photo-after-revoke.bin')]);
    assert.ok(readFileSync(join(dir, 'photo-after-revoke.bin')).equals(photo), 'a blob of epoch 0, through the previous-epoch link');
    assert.equal(kithJson<{ deviceId: string; revoked: boolean }[]>(home, ['devices']).find((d) => d.deviceId === deviceId)?.revoked, true);
  });

  test('a tampered byte anywhere is KITH_INTEGRITY_ and nothing is written; a wrong recovery code is refused clearly', () => {
    const file = join(dir, 'small.kbk');
    const b = join(dir, 'b');
    const otherCode = kithJson<{ recoveryCode: string }>(b, ['init', '--remote', join(dir, 'remote-b')]).recoveryCode;
    kithJson(b, ['put', 'notes', 'x', '{"title":"x"}']);
    kithJson(b, ['backup', file]);
    const bytes = readFileSync(file);
    for (const at of [8, 40, 50, 200, Math.floor(bytes.length / 2), bytes.length - 1]) {
      const bad = Buffer.from(bytes);
      bad[at]! ^= 0x01;
      const t = join(dir, `tampered-${at}.kbk`);
      writeFileSync(t, bad);
      const remote = join(dir, `remote-tampered-${at}`);
      const r = runKith(join(dir, `home-tampered-${at}`), ['restore', '--from-backup', t, '--remote', remote, '--recovery-code', otherCode]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /\(KITH_(INTEGRITY_[A-Z_]+|UNSUPPORTED_FORMAT)\)$/m, `byte ${at}: ${r.stderr}`);
      assert.ok(!existsSync(join(remote, 'vault')), 'nothing written to the remote');
      assert.equal(runKith(join(dir, `home-tampered-${at}`), ['status']).status, 1, 'no vault in the home');
    }
    const truncated = join(dir, 'truncated.kbk');
    writeFileSync(truncated, bytes.subarray(0, bytes.length - 100));
    assertError(
      runKith(join(dir, 'home-trunc'), ['restore', '--from-backup', truncated, '--remote', join(dir, 'remote-trunc'), '--recovery-code', otherCode]),
      1,
      'KITH_INTEGRITY_CORRUPT',
    );
    assertError(
      runKith(join(dir, 'home-wrong'), ['restore', '--from-backup', file, '--remote', join(dir, 'remote-wrong'), '--recovery-code', code]),
      1,
      'KITH_WRONG_RECOVERY_CODE',
    );
    assert.ok(!existsSync(join(dir, 'remote-wrong', 'vault')));
  });

  test('--no-blobs: records restore, and the restore says blobs were not included', () => {
    const file = join(dir, 'no-blobs.kbk');
    const r = kithJson<{ blobs: number }>(a, ['backup', file, '--no-blobs']);
    assert.equal(r.blobs, 0);
    assert.ok(readFileSync(file).length < 5 * 1024 * 1024);
    const home = join(dir, 'restored-no-blobs');
    const run = runKith(home, ['restore', '--from-backup', file, '--remote', join(dir, 'remote-no-blobs'), '--recovery-code', code]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /blobs were not included/);
    assert.match(run.stdout, /blobs were not included/);
    assert.deepEqual(allRecords(home, collections), allRecords(a, collections));
    const json = kithJson<{ blobsIncluded: boolean; blobs: number }>(join(dir, 'restored-no-blobs-json'), [
      'restore',
      '--from-backup',
      file,
      '--remote',
      join(dir, 'remote-no-blobs-json'),
      '--recovery-code',
      code,
    ]);
    assert.deepEqual([json.blobsIncluded, json.blobs], [false, 0]);
  });

  test('the vault password opens a backup too; a wrong one is refused before anything is written', () => {
    const p = join(dir, 'pw');
    kithJson(p, ['init', '--remote', join(dir, 'remote-pw')]);
    kithJson(p, ['put', 'notes', 'p1', '{"title":"by password"}']);
    kithJson(p, ['password', 'set'], 'long enough password\n');
    const file = join(dir, 'pw.kbk');
    kithJson(p, ['backup', file]);
    const remote = join(dir, 'remote-pw-restored');
    assertError(
      runKith(join(dir, 'pw-wrong'), ['restore', '--from-backup', file, '--remote', remote, '--password'], { input: 'not the password\n' }),
      1,
      'KITH_WRONG_PASSWORD',
    );
    assert.ok(!existsSync(join(remote, 'vault')));
    const home = join(dir, 'pw-restored');
    kithJson(home, ['restore', '--from-backup', file, '--remote', remote, '--password'], 'long enough password\n');
    assert.deepEqual(kithJson<Doc[]>(home, ['ls', 'notes']), [{ title: 'by password', id: 'p1' }]);
    // The restored vault keeps its password: another device restores with it.
    kithJson(join(dir, 'pw-again'), ['restore', '--remote', remote, '--password'], 'long enough password\n');
  });

  test('through a relay process: backup of a relay vault, restored onto a new vault name, joinable by pairing', async () => {
    const relay = await serveRelay(join(dir, 'relay-home'), ['--data', join(dir, 'relay-data')]);
    try {
      const r = join(dir, 'relay-a');
      const rCode = kithJson<{ recoveryCode: string }>(r, ['init', '--remote', `${relay.url}/old`]).recoveryCode;
      kithJson(r, ['put', 'notes', 'r1', '{"title":"through the relay"}']);
      const ref = kithJson<{ ref: string }>(r, ['blob', 'put', join(dir, 'photo.bin')]).ref;
      kithJson(r, ['put', 'notes', 'r2', JSON.stringify({ photo: ref })]);
      kithJson(r, ['password', 'set'], 'long enough password\n');
      kithJson(r, ['sync']);
      const file = join(dir, 'relay.kbk');
      await kithJsonAsync(r, ['backup', file]);
      const home = join(dir, 'relay-restored');
      const remote = `${relay.url}/new`;
      // The relay takes a new vault's registry from the recovery key only: refused before anything is written.
      const byPassword = await kith(join(dir, 'relay-pw'), ['restore', '--from-backup', file, '--remote', remote, '--password'], {
        input: 'long enough password\n',
      });
      assertError({ status: byPassword.code, stdout: byPassword.stdout, stderr: byPassword.stderr }, 1, 'KITH_BAD_INPUT');
      await kithJsonAsync(home, ['restore', '--from-backup', file, '--remote', remote, '--recovery-code', rCode]);
      const phone = join(dir, 'relay-phone');
      await pairNewDevice(home, phone, remote);
      await kithJsonAsync(phone, ['sync']);
      assert.deepEqual(kithJson<Doc[]>(phone, ['ls', 'notes']), kithJson<Doc[]>(r, ['ls', 'notes']));
      await kithJsonAsync(phone, ['blob', 'get', ref, '-o', join(dir, 'relay-photo.bin')]);
      assert.ok(readFileSync(join(dir, 'relay-photo.bin')).equals(photo));
    } finally {
      await relay.stop();
    }
  });
});
