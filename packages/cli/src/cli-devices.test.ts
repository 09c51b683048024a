import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertError, KITH_BIN, kithJson, runKith } from './testing/index.js';

type Doc = { id: string; [k: string]: unknown };

describe('kith CLI: two devices over a folder remote', () => {
  let dir: string;
  let remote: string;
  let a: string;
  let b: string;
  let code: string;
  let devA: string;
  let devB: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kith-cli-'));
    remote = join(dir, 'remote');
    a = join(dir, 'a');
    b = join(dir, 'b');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('init prints the vault, device and recovery code; the human form warns to store the code', () => {
    const r = kithJson<{ vaultId: string; deviceId: string; recoveryCode: string }>(a, ['init', '--remote', remote, '--name', 'laptop']);
    assert.match(r.vaultId, /^[0-9a-f]{32}$/);
    assert.match(r.deviceId, /^[0-9a-f]{16}$/);
    assert.match(r.recoveryCode, /^([0-9A-Z]{4}-){7}[0-9A-Z]{4}$/);
    code = r.recoveryCode;
    devA = r.deviceId;
    const human = runKith(join(dir, 'other'), ['init', '--remote', join(dir, 'remote2')]);
    assert.equal(human.status, 0);
    assert.match(human.stdout, /Recovery code .*store it somewhere safe/s);
  });

  test('import is all or nothing; restore joins as a new device; edits flow both ways', () => {
    const file = join(dir, 'notes.jsonl');
    writeFileSync(
      file,
      Array.from({ length: 200 }, (_, i) => JSON.stringify({ id: `n${i}`, title: `note ${i}`, n: i, done: i % 3 === 0 })).join('\n') + '\n\n',
    );
    assert.deepEqual(kithJson(a, ['import', 'notes', file]), { imported: 200 });
    assert.deepEqual(kithJson(a, ['push']), { pushed: 200, pulled: 0, conflicts: 0 });
    const wrong = runKith(b, ['restore', '--remote', remote, '--recovery-code', '0000-0000-0000-0000-0000-0000-0000-0000']);
    assertError(wrong, 1, 'KITH_BAD_RECOVERY_CODE');
    const r = kithJson<{ vaultId: string; deviceId: string }>(b, ['restore', '--remote', remote, '--recovery-code', code.toLowerCase(), '--name', 'phone']);
    devB = r.deviceId;
    assert.notEqual(devB, devA);
    assert.deepEqual(kithJson(b, ['pull']), { pushed: 0, pulled: 200, conflicts: 0 });
    assert.deepEqual(kithJson(b, ['get', 'notes', 'n7']), { id: 'n7', title: 'note 7', n: 7, done: false });
    assert.deepEqual(kithJson(b, ['patch', 'notes', 'n7', '{"title":"from phone"}', '--sync']), { ok: true, collection: 'notes', id: 'n7', pushed: 1 });
    kithJson(a, ['rm', 'notes', 'n8', '--sync']);
    kithJson(a, ['put', 'notes', 'n9', '-', '--sync'], '{"title":"replaced"}');
    kithJson(a, ['pull']);
    kithJson(b, ['pull']);
    assert.equal(kithJson<Doc>(a, ['get', 'notes', 'n7'])['title'], 'from phone');
    assertError(runKith(b, ['get', 'notes', 'n8']), 1, 'KITH_NOT_FOUND');
    assert.deepEqual(kithJson(b, ['get', 'notes', 'n9']), { id: 'n9', title: 'replaced' });
    assert.deepEqual(kithJson<Doc[]>(a, ['ls', 'notes']), kithJson<Doc[]>(b, ['ls', 'notes']));
  });

  test('ls filters, orders, limits and pages', () => {
    const done = kithJson<Doc[]>(b, ['ls', 'notes', '--where', 'done=true', '--order', '-n', '--limit', '5']);
    assert.deepEqual(
      done.map((d) => d.id),
      ['n198', 'n195', 'n192', 'n189', 'n186'],
    );
    assert.equal(kithJson<Doc[]>(b, ['ls', 'notes', '--where', 'title=note 5']).length, 1);
    assert.equal(kithJson<Doc[]>(b, ['ls', 'notes', '--where', 'done=true', '--where', 'n=3']).length, 1);
    assert.equal(kithJson<Doc[]>(b, ['ls', 'notes']).length, 199);
    const human = runKith(b, ['ls', 'notes']);
    assert.equal(human.stdout.trim().split('\n').length, 199);
  });

  test('a big ls through a pipe is complete; a reader that stops early is no error', () => {
    const solo = join(dir, 'solo');
    kithJson(solo, ['init', '--remote', join(dir, 'solo-remote')]);
    const pad = 'p'.repeat(500);
    const lines = Array.from({ length: 1200 }, (_, i) => JSON.stringify({ id: `r${String(i).padStart(4, '0')}`, i, pad }));
    assert.deepEqual(kithJson(solo, ['import', 'big', '-'], lines.join('\n')), { imported: 1200 });
    const all = runKith(solo, ['ls', 'big', '--json']);
    assert.ok(all.stdout.length > 600_000);
    assert.deepEqual(
      JSON.parse(all.stdout),
      lines.map((l) => JSON.parse(l) as unknown),
    );
    const text = runKith(solo, ['ls', 'big']).stdout.trimEnd().split('\n');
    assert.deepEqual(
      text.map((l) => JSON.parse(l) as unknown),
      lines.map((l) => JSON.parse(l) as unknown),
    );
    const head = spawnSync('bash', ['-c', `"${process.execPath}" "${KITH_BIN}" --home "${solo}" ls big | head -c 100 >/dev/null; echo "\${PIPESTATUS[0]}"`], {
      encoding: 'utf8',
    });
    assert.equal(head.stdout.trim(), '0');
    assert.equal(head.stderr, '');
  });

  test('a concurrent edit is a conflict listed identically on both; --keep, --take and --value resolve it', () => {
    type Listed = {
      collection: string;
      id: string;
      field: string;
      winner: string;
      winnerDevice: string;
      losers: { device: string; hlc: string; value: string }[];
    };
    // One round of concurrent edits makes three conflicts, one for each way of resolving.
    const ids = ['n1', 'n2', 'n3'];
    for (const id of ids) kithJson(a, ['patch', 'notes', id, JSON.stringify({ title: `A ${id}` })]);
    for (const id of ids) kithJson(b, ['patch', 'notes', id, JSON.stringify({ title: `B ${id}` })]);
    for (const home of [a, b, a]) kithJson(home, ['sync']);
    const listed = kithJson<Listed[]>(a, ['conflicts']);
    assert.deepEqual(listed, kithJson(b, ['conflicts', 'notes']));
    assert.deepEqual(
      listed.map((c) => c.id),
      ids,
    );
    for (const c of listed) {
      assert.equal(c.field, 'title');
      assert.equal(c.losers.length, 1);
      assert.deepEqual(new Set([c.winner, c.losers[0]!.value]), new Set([`A ${c.id}`, `B ${c.id}`]));
      assert.deepEqual(new Set([c.winnerDevice, c.losers[0]!.device]), new Set([devA, devB]));
    }
    assert.deepEqual(kithJson(a, ['conflicts', 'other']), []);
    assert.equal(kithJson<{ conflicts: number }>(a, ['status']).conflicts, 3);

    const [keep, take] = listed as [Listed, Listed, Listed];
    assertError(runKith(a, ['resolve', 'notes', 'n1', '--keep', '--value', '1']), 2, 'KITH_USAGE');
    assertError(runKith(a, ['resolve', 'notes', 'n1']), 2, 'KITH_USAGE');
    kithJson(a, ['resolve', 'notes', 'n1', '--field', 'title', '--keep']);
    kithJson(b, ['resolve', 'notes', 'n2', '--take', take.losers[0]!.device]);
    kithJson(a, ['resolve', 'notes', 'n3', '--field', 'title', '--value', '"merged"']);
    for (const home of [a, b, a]) kithJson(home, ['sync']);
    for (const home of [a, b]) {
      assert.deepEqual(kithJson(home, ['conflicts']), []);
      const docs = new Map(kithJson<Doc[]>(home, ['ls', 'notes']).map((d) => [d.id, d]));
      const titles = ids.map((id) => docs.get(id)?.['title']);
      assert.deepEqual(titles, [keep.winner, take.losers[0]!.value, 'merged']);
    }
    assertError(runKith(a, ['resolve', 'notes', 'n1', '--keep']), 1, 'KITH_NO_CONFLICT');
  });

  test('status and log', () => {
    const s = kithJson<Record<string, unknown>>(a, ['status']);
    assert.deepEqual(
      Object.keys(s).sort(),
      ['caughtUp', 'conflicts', 'deviceId', 'deviceName', 'devices', 'lastPull', 'lastPush', 'pending', 'remote', 'vaultId'].sort(),
    );
    assert.equal(s['deviceId'], devA);
    assert.equal(s['deviceName'], 'laptop');
    assert.equal(s['pending'], 0);
    assert.match(String(s['lastPush']), /^\d{4}-\d\d-\d\dT/);
    const log = kithJson<{ hlc: string; device: string; kind: string; fields: string[] }[]>(a, ['log', 'notes', 'n1']);
    assert.ok(log.length >= 3);
    assert.ok(log.some((e) => e.device === devB) && log.some((e) => e.device === devA));
    assert.deepEqual(
      log.map((e) => e.hlc),
      [...log.map((e) => e.hlc)].sort(),
    );
    assert.deepEqual(kithJson(b, ['log', 'notes', 'n1']), log);
    assert.equal(kithJson<unknown[]>(a, ['log', '--limit', '3']).length, 3);
  });

  test('sync --watch syncs each round, picks up the other device, and stops cleanly on SIGTERM', async () => {
    const watcher = spawn(process.execPath, [KITH_BIN, '--home', a, 'sync', '--watch', '--interval', '0.2', '--json']);
    const exited = new Promise<number | null>((resolve) => watcher.on('close', resolve));
    let out = '';
    let err = '';
    watcher.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const rounds = (): { pushed: number; pulled: number; conflicts: number }[] =>
      out
        .split('\n')
        .slice(0, -1)
        .map((l) => JSON.parse(l) as { pushed: number; pulled: number; conflicts: number });
    watcher.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const waitFor = async (ok: () => boolean) => {
      for (const started = Date.now(); !ok(); await new Promise((r) => setTimeout(r, 50))) {
        if (Date.now() - started > 20_000) throw new Error(`watch never got there; stdout: ${out} stderr: ${err}`);
      }
    };
    try {
      await waitFor(() => rounds().length >= 1);
      kithJson(b, ['put', 'notes', 'watched', '{"by":"phone"}', '--sync']);
      await waitFor(() => rounds().some((r) => r.pulled >= 1));
    } finally {
      watcher.kill('SIGTERM');
    }
    assert.equal(await exited, 0, err);
    assert.equal(err, '');
    for (const r of rounds()) assert.deepEqual(Object.keys(r).sort(), ['conflicts', 'pulled', 'pushed']);
    assert.deepEqual(kithJson(a, ['get', 'notes', 'watched']), { id: 'watched', by: 'phone' });
    kithJson(a, ['rm', 'notes', 'watched', '--sync']);
    kithJson(b, ['pull']);
  });
});
