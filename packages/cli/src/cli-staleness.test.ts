/**
 * Staleness through the real `kith` binary: `status` lists every device
 * with its last head time; `restore` and `sync` warn (stderr line and a
 * `warnings` array in --json) when the remote serves an old state.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Vault } from '@kith/core';
import { remoteKeys } from '@kith/core/adapter';
import { openFolderRemote } from '@kith/folder';
import { openSqliteStore } from '@kith/sqlite';
import { kithJson, runKith } from './testing/index.js';

const DAY = 24 * 3600 * 1000;

interface Warning {
  code: string;
  message: string;
  hint: string;
}

interface DeviceStatus {
  deviceId: string;
  name: string;
  revoked: boolean;
  current: boolean;
  lastHeadAt: string | null;
  lastSeen: string | null;
  hasYourChangesUntil: string | null;
}

const warningLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('kith: warning: '));

describe('kith CLI: staleness signals', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kith-stale-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('status lists both devices with their last head times; a live remote gives no warning', () => {
    const remote = join(dir, 'live');
    const [a, b] = [join(dir, 'a'), join(dir, 'b')];
    const { recoveryCode, deviceId: devA } = kithJson<{ recoveryCode: string; deviceId: string }>(a, ['init', '--remote', remote, '--name', 'laptop']);
    kithJson(a, ['put', 'notes', 'n1', '{"title":"hi"}']);
    assert.deepEqual(kithJson<{ warnings: Warning[] }>(a, ['sync']).warnings, []);
    const restored = runKith(b, ['restore', '--remote', remote, '--recovery-code', recoveryCode, '--name', 'phone', '--json']);
    assert.equal(restored.status, 0, restored.stderr);
    const { deviceId: devB, warnings } = JSON.parse(restored.stdout) as { deviceId: string; warnings: Warning[] };
    assert.deepEqual(warnings, []);
    assert.deepEqual(warningLines(restored.stderr), []);
    kithJson(b, ['sync']);
    const synced = runKith(a, ['sync', '--json']);
    assert.equal(synced.status, 0, synced.stderr);
    assert.deepEqual((JSON.parse(synced.stdout) as { warnings: Warning[] }).warnings, []);
    assert.deepEqual(warningLines(synced.stderr), []);

    const { devices } = kithJson<{ devices: DeviceStatus[] }>(a, ['status']);
    assert.deepEqual(
      devices
        .map((d) => ({ ...d, lastHeadAt: typeof d.lastHeadAt, lastSeen: typeof d.lastSeen, hasYourChangesUntil: typeof d.hasYourChangesUntil }))
        .sort((x, y) => x.name.localeCompare(y.name)),
      [
        { deviceId: devA, name: 'laptop', revoked: false, current: true, lastHeadAt: 'string', lastSeen: 'string', hasYourChangesUntil: 'object' },
        { deviceId: devB, name: 'phone', revoked: false, current: false, lastHeadAt: 'string', lastSeen: 'string', hasYourChangesUntil: 'string' },
      ],
    );
    for (const d of devices) assert.ok(Math.abs(Date.parse(d.lastHeadAt!) - Date.now()) < DAY, `${d.name}: ${d.lastHeadAt}`);
    const human = runKith(a, ['status']);
    assert.equal(human.status, 0, human.stderr);
    assert.match(human.stdout, new RegExp(`${devA} laptop \\(this device\\)  last head \\d{4}-\\d\\d-\\d\\dT`));
    assert.match(human.stdout, new RegExp(`${devB} phone  last head \\d{4}-\\d\\d-\\d\\dT`));
    // A revoked device stays listed, marked, with the last head it wrote.
    kithJson(a, ['devices', 'revoke', devB]);
    const after = kithJson<{ devices: DeviceStatus[] }>(a, ['status']).devices.find((d) => d.deviceId === devB);
    assert.equal(after?.revoked, true);
    assert.equal(after?.lastHeadAt, devices.find((d) => d.deviceId === devB)!.lastHeadAt);
    assert.match(runKith(a, ['status']).stdout, new RegExp(`${devB} phone \\[revoked\\]  last head \\d{4}-`));
  });

  test('restore from a remote whose newest data is 30 days old warns on stderr and in --json; --stale-after raises the bar', async () => {
    // The old state is written in-process with a clock 30 days back: the CLI itself reads the real time.
    const remoteDir = join(dir, 'old');
    let t = Date.now() - 30 * DAY;
    const store = await openSqliteStore(join(dir, 'old-home', 'kith.db'));
    const { vault, recoveryCode } = await Vault.create({
      store,
      remote: await openFolderRemote(remoteDir, { create: true }),
      remoteUrl: remoteDir,
      deviceName: 'old laptop',
      deps: { now: () => (t += 1) },
    });
    await vault.put('notes', 'n1', { title: 'from last month' });
    await vault.sync();
    await vault.close();

    const json = runKith(join(dir, 'c'), ['restore', '--remote', remoteDir, '--recovery-code', recoveryCode, '--json']);
    assert.equal(json.status, 0, json.stderr);
    const out = JSON.parse(json.stdout) as { warnings: Warning[] };
    assert.deepEqual(
      out.warnings.map((w) => w.code),
      ['KITH_STALE_REMOTE'],
    );
    assert.match(out.warnings[0]!.message, /newest data on the remote was written 30 days ago/);
    const lines = warningLines(json.stderr);
    assert.equal(lines.length, 1, json.stderr);
    assert.match(
      lines[0]!,
      /^kith: warning: the newest data on the remote was written 30 days ago .*; if your devices synced more recently, the remote is serving an old state .* \(KITH_STALE_REMOTE\)$/,
    );

    const human = runKith(join(dir, 'd'), ['restore', '--remote', remoteDir, '--recovery-code', recoveryCode]);
    assert.equal(human.status, 0, human.stderr);
    assert.match(human.stdout, /^Joined vault /);
    assert.equal(warningLines(human.stderr).length, 1, human.stderr);
    // Every sync repeats it while the remote stays that old.
    const again = runKith(join(dir, 'd'), ['sync', '--json']);
    assert.equal(again.status, 0, again.stderr);
    assert.deepEqual(
      (JSON.parse(again.stdout) as { warnings: Warning[] }).warnings.map((w) => w.code),
      ['KITH_STALE_REMOTE'],
    );
    assert.equal(warningLines(again.stderr).length, 1, again.stderr);

    const patient = kithJson<{ warnings: Warning[] }>(join(dir, 'e'), [
      'restore',
      '--remote',
      remoteDir,
      '--recovery-code',
      recoveryCode,
      '--stale-after',
      '60',
    ]);
    assert.deepEqual(patient.warnings, []);
    const bad = runKith(join(dir, 'f'), ['restore', '--remote', remoteDir, '--recovery-code', recoveryCode, '--stale-after', '0']);
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /--stale-after must be a positive number/);
  });

  test('sync warns when the remote serves a head older than one this device saw', () => {
    const remote = join(dir, 'rolled');
    const [a, b] = [join(dir, 'ra'), join(dir, 'rb')];
    const { recoveryCode, deviceId: devA } = kithJson<{ recoveryCode: string; deviceId: string }>(a, ['init', '--remote', remote, '--name', 'laptop']);
    kithJson(a, ['put', 'notes', 'n1', '{"v":1}', '--sync']);
    const headFile = join(remote, remoteKeys.head(devA));
    copyFileSync(headFile, join(dir, 'old-head'));
    kithJson(b, ['restore', '--remote', remote, '--recovery-code', recoveryCode]);
    kithJson(b, ['sync']);
    kithJson(a, ['sync']); // A learns B's registry entry from B's head: it rewrites its own (same segment, newer time)
    assert.deepEqual(kithJson<{ warnings: Warning[] }>(b, ['sync']).warnings, []);
    // The remote serves A's older head again: same segment, so no chain error; only its signed time tells.
    copyFileSync(join(dir, 'old-head'), headFile);
    const r = runKith(b, ['sync', '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(
      (JSON.parse(r.stdout) as { warnings: Warning[] }).warnings.map((w) => w.code),
      ['KITH_STALE_HEAD'],
    );
    const lines = warningLines(r.stderr);
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0]!,
      new RegExp(`^kith: warning: the remote served device ${devA}'s head written at .*, older than the one this device saw before .* \\(KITH_STALE_HEAD\\)$`),
    );
  });
});
