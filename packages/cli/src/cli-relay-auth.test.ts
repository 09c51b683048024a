import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startRelay, type RelayLogEvent, type RunningRelay } from '@kith/relay-server';
import { assertError, KITH_BIN, type Run } from './testing/index.js';

const INVITE = 'family-invite-token';

/** `kith --home HOME ...args` without blocking this process (the relay runs in it). */
function kith(home: string, args: readonly string[], o: { env?: Record<string, string>; input?: string } = {}): Promise<Run> {
  const child = spawn(process.execPath, [KITH_BIN, '--home', home, ...args], { env: { ...process.env, ...o.env } });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin.end(o.input ?? '');
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
}

async function kithJson<T = unknown>(home: string, args: readonly string[], o: { env?: Record<string, string>; input?: string } = {}): Promise<T> {
  const r = await kith(home, [...args, '--json'], o);
  if (r.status !== 0) throw new Error(`kith ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

describe('kith CLI against a relay that authenticates devices', () => {
  let dir: string;
  let relay: RunningRelay;
  let remote: string;
  const events: RelayLogEvent[] = [];
  const home = (name: string): string => join(dir, name);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kith-cli-auth-'));
    relay = await startRelay({ dataDir: join(dir, 'relay'), durability: 'normal', inviteToken: INVITE, logger: (e) => events.push(e) });
    remote = `${relay.url}/family`;
  });
  after(async () => {
    await relay.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('init (invite-gated), restore, pair/join, put, sync, sync --watch, blobs, revoke', async () => {
    const [a, b, c] = [home('laptop'), home('phone'), home('tablet')];
    // Creating a vault needs the operator's invite token; without it, one line and nothing stored.
    assertError(await kith(a, ['init', '--remote', remote, '--name', 'laptop']), 1, 'KITH_REMOTE_AUTH');
    assertError(await kith(a, ['init', '--remote', remote], { env: { KITH_RELAY_INVITE_TOKEN: 'wrong' } }), 1, 'KITH_REMOTE_AUTH');
    const { recoveryCode } = await kithJson<{ recoveryCode: string }>(a, ['init', '--remote', remote, '--name', 'laptop'], {
      env: { KITH_RELAY_INVITE_TOKEN: INVITE },
    });
    await kithJson(a, ['put', 'notes', 'n1', '{"title":"one"}', '--sync']);

    await kithJson(b, ['restore', '--remote', remote, '--recovery-code', recoveryCode, '--name', 'phone']);
    await kithJson(b, ['sync']);
    assert.deepEqual(await kithJson(b, ['get', 'notes', 'n1']), { id: 'n1', title: 'one' });

    // Pairing: the new device uses the open mailbox until the laptop signs it in.
    const pair = spawn(process.execPath, [KITH_BIN, '--home', a, 'pair', '--yes', '--json', '--timeout', '60']);
    const paired = new Promise<number | null>((resolve) => pair.on('close', resolve));
    let pairOut = '';
    const code = await new Promise<string>((resolve) =>
      pair.stdout.setEncoding('utf8').on('data', (d: string) => {
        pairOut += d;
        if (pairOut.includes('\n')) resolve((JSON.parse(pairOut.split('\n')[0]!) as { code: string }).code);
      }),
    );
    const tablet = await kithJson<{ deviceId: string }>(c, ['join', code, '--remote', remote, '--name', 'tablet']);
    assert.equal(await paired, 0);
    await kithJson(c, ['pull']);
    assert.deepEqual(await kithJson(c, ['get', 'notes', 'n1']), { id: 'n1', title: 'one' });

    // Attachments travel through the relay as any object does.
    const file = join(dir, 'photo.bin');
    const bytes = randomBytes(300_000);
    writeFileSync(file, bytes);
    const { ref } = await kithJson<{ ref: string }>(a, ['blob', 'put', file]);
    await kithJson(a, ['put', 'photos', 'p1', JSON.stringify({ image: ref }), '--sync']);
    await kithJson(c, ['pull']);
    await kithJson(c, ['blob', 'get', ref, '-o', join(dir, 'photo.out')]);
    assert.deepEqual(readFileSync(join(dir, 'photo.out')), bytes);

    // sync --watch on the phone hears of the laptop's push over its authenticated socket.
    const watch = spawn(process.execPath, [KITH_BIN, '--home', b, 'sync', '--watch', '--interval', '600', '--json']);
    let rounds = '';
    watch.stdout.setEncoding('utf8').on('data', (d: string) => (rounds += d));
    const watchExit = new Promise<number | null>((resolve) => watch.on('close', resolve));
    const pulled = (): number =>
      rounds
        .split('\n')
        .filter((l) => l.trim() !== '')
        .reduce((n, l) => n + (JSON.parse(l) as { pulled: number }).pulled, 0);
    try {
      for (const t0 = Date.now(); rounds === ''; await new Promise((r) => setTimeout(r, 50))) assert.ok(Date.now() - t0 < 20_000, 'first round');
      const before = pulled();
      await kithJson(a, ['put', 'notes', 'n2', '{"title":"live"}', '--sync']);
      for (const t0 = Date.now(); pulled() === before; await new Promise((r) => setTimeout(r, 50)))
        assert.ok(Date.now() - t0 < 20_000, 'pulled on the push notice');
    } finally {
      watch.kill('SIGTERM');
      assert.equal(await watchExit, 0);
    }

    // Revoked: the relay refuses the tablet at once; its local data stays readable.
    await kithJson(a, ['devices', 'revoke', tablet.deviceId]);
    assertError(await kith(c, ['sync']), 1, 'KITH_REVOKED');
    // A blob stored after the revocation: even knowing its ref, the tablet cannot fetch it.
    writeFileSync(file, randomBytes(1000));
    const later = await kithJson<{ ref: string }>(a, ['blob', 'put', file]);
    assertError(await kith(c, ['blob', 'get', later.ref, '-o', join(dir, 'later.out')]), 1, 'KITH_REVOKED');
    assert.deepEqual(await kithJson(c, ['get', 'notes', 'n1']), { id: 'n1', title: 'one' });
    await kithJson(b, ['sync']);
    assert.equal((await kithJson<{ deviceId: string; revoked: boolean }[]>(b, ['devices'])).find((d) => d.deviceId === tablet.deviceId)?.revoked, true);

    // The relay logged refusals by reason, never the vault's name, device ids or the invite token.
    assert.ok(events.some((e) => e.msg === 'auth refused' && e.reason === 'revoked'));
    const log = JSON.stringify(events);
    for (const secret of ['family', tablet.deviceId, INVITE]) assert.ok(!log.includes(secret), secret);
  });
});
