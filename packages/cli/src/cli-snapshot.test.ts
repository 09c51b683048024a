/**
 * `kith snapshot` as real processes, over a folder remote and a relay
 * process: after churn, a snapshot lets a new device start without the
 * history (over the folder it succeeds with every covered segment moved
 * away; through the relay it downloads well under half of a full replay),
 * a second snapshot after a few changes uploads only what changed, and a
 * tampered snapshot is refused with a warning while the device still gets
 * every record (from the older snapshot).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnRelayProcess, type RelayProcess } from '@kith/relay-server/testing';
import { kithJsonAsync } from './testing/index.js';

type Snap = { snapshot: string; records: number; bytes: number; uploaded: number };
type Warning = { code: string; message: string };
// Cuts fall where a record's keyed hash says, so chunk sizes vary like coin flips, and the chunk a change falls in
// is a large one more often than not (about twice the 32 KiB average). At 300 records (~400 KB of state) that chunk
// passed a quarter of the state about one run in five; at 900 (~1.2 MB, still one 32 KiB average) about one in a thousand.
const RECORDS = 900;
const ROUNDS = 5;

/** A fresh home directory under `dir`. */
const home = (dir: string, name: string): string => {
  const h = join(dir, name);
  mkdirSync(h);
  return h;
};

/** Creates a vault on `remote` from `a` and churns it: RECORDS records × ROUNDS versions, a few deleted; returns the recovery code. */
async function churn(dir: string, a: string, remote: string): Promise<string> {
  const { recoveryCode } = await kithJsonAsync<{ recoveryCode: string }>(a, ['init', '--remote', remote, '--name', 'a']);
  for (let round = 0; round < ROUNDS; round++) {
    const file = join(dir, `round-${round}.jsonl`);
    const lines = Array.from({ length: RECORDS }, (_, i) =>
      JSON.stringify({ id: `n${i}`, title: `note ${i} v${round}`, body: randomBytes(250).toString('hex') }),
    );
    writeFileSync(file, lines.join('\n') + '\n');
    await kithJsonAsync(a, ['import', 'notes', file]);
    await kithJsonAsync(a, ['sync']);
  }
  for (const id of ['n0', 'n1', 'n2']) await kithJsonAsync(a, ['rm', 'notes', id]);
  await kithJsonAsync(a, ['sync']);
  return recoveryCode;
}

const records = (h: string): Promise<unknown> => kithJsonAsync(h, ['ls', 'notes']);

/** A device restored from the code, after its first sync: the sync's warnings. */
async function restoreAndSync(h: string, remote: string, recoveryCode: string): Promise<Warning[]> {
  await kithJsonAsync(h, ['restore', '--remote', remote, '--recovery-code', recoveryCode, '--name', 'new']);
  return (await kithJsonAsync<{ warnings: Warning[] }>(h, ['sync'])).warnings;
}

/** The snapshot after a couple of changes sends only the chunks they fall in. */
async function smallChange(a: string, expected: number): Promise<void> {
  await kithJsonAsync(a, ['put', 'notes', 'n100', '{"title":"changed"}']);
  const again = await kithJsonAsync<Snap>(a, ['snapshot']);
  assert.equal(again.records, expected);
  assert.ok(again.uploaded < again.bytes / 4, `uploaded ${again.uploaded} of ${again.bytes}`);
}

describe('kith snapshot over a folder remote', { timeout: 600_000 }, () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'kith-snapshot-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('churn, snapshot, a new device starts from it without the history; a small change re-uploads little; a tampered snapshot is refused', async () => {
    const remote = join(dir, 'remote');
    const a = home(dir, 'a');
    const code = await churn(dir, a, remote);
    const snap = await kithJsonAsync<Snap>(a, ['snapshot']);
    assert.deepEqual(Object.keys(snap).sort(), ['bytes', 'records', 'snapshot', 'uploaded']);
    assert.equal(snap.records, RECORDS - 3);
    assert.ok(snap.uploaded > 0 && snap.bytes > 0);

    // Every segment the snapshot covers moved away: a device that replayed history could not start.
    const segDir = join(remote, 'segments');
    const device = readdirSync(segDir)[0]!;
    const aside = join(dir, 'aside');
    renameSync(join(segDir, device), aside);
    mkdirSync(join(segDir, device));
    const history = readdirSync(aside).reduce((n, f) => n + statSync(join(aside, f)).size, 0);
    assert.ok(snap.uploaded < history / 2, `snapshot ${snap.uploaded} bytes, history ${history}`);
    const b = home(dir, 'b');
    assert.deepEqual(await restoreAndSync(b, remote, code), []);
    assert.deepEqual(await records(b), await records(a));
    rmSync(join(segDir, device), { recursive: true });
    renameSync(aside, join(segDir, device));

    // The tail after the snapshot arrives as usual.
    await kithJsonAsync(a, ['put', 'notes', 'after', '{"title":"after the snapshot"}']);
    await kithJsonAsync(a, ['sync']);
    await kithJsonAsync(b, ['sync']);
    assert.deepEqual(await records(b), await records(a));

    await smallChange(a, RECORDS - 2);

    // The newest snapshot altered on the remote: refused with a warning, the older one used.
    const newest = readdirSync(join(remote, 'snapshots')).sort().at(-1)!;
    const file = join(remote, 'snapshots', newest);
    const bytes = readFileSync(file);
    bytes[bytes.length - 70]! ^= 1;
    writeFileSync(file, bytes);
    const c = home(dir, 'c');
    const warnings = await restoreAndSync(c, remote, code);
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.equal(warnings[0]!.code, 'KITH_SNAPSHOT_REFUSED');
    assert.match(warnings[0]!.message, /KITH_INTEGRITY_CORRUPT/);
    assert.deepEqual(await records(c), await records(a));
  });
});

/** An HTTP proxy in front of `target` that counts the response bytes it relays. */
async function countingProxy(target: string): Promise<{ url: string; received: () => number; close: () => Promise<void> }> {
  const t = new URL(target);
  let received = 0;
  const server: Server = createServer((req, res) => {
    const up = request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.on('data', (d: Buffer) => (received += d.length));
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    received: () => received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('kith snapshot through a relay process', { timeout: 600_000 }, () => {
  let dir: string;
  let relay: RelayProcess;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kith-snapshot-relay-'));
    relay = await spawnRelayProcess(join(dir, 'relay'));
  });
  after(async () => {
    await relay.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a new device bootstrapping from the snapshot downloads well under half of what a full replay does', async () => {
    const a = home(dir, 'a');
    const code = await churn(dir, a, `${relay.url}/snapshots`);
    const proxy = await countingProxy(relay.url);
    try {
      const full = home(dir, 'full');
      await restoreAndSync(full, `${proxy.url}/snapshots`, code);
      const replayBytes = proxy.received();
      await kithJsonAsync<Snap>(a, ['snapshot']);
      const b = home(dir, 'b');
      assert.deepEqual(await restoreAndSync(b, `${proxy.url}/snapshots`, code), []);
      const bootBytes = proxy.received() - replayBytes;
      assert.ok(bootBytes < replayBytes / 2, `bootstrap ${bootBytes} bytes, full replay ${replayBytes}`);
      assert.deepEqual(await records(b), await records(a));
      assert.deepEqual(await records(full), await records(a));
      await smallChange(a, RECORDS - 3);
    } finally {
      await proxy.close();
    }
  });
});
