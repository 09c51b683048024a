import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KITH_BIN, kithJson, serveRelay, type ServedRelay } from './testing/index.js';

type Round = { pushed: number; pulled: number; conflicts: number };
type Prefetched = { blobs: { fetched: number; evicted: number; unavailable: number } };

/** `kith sync --watch --json` on `home`, with its rounds (and blob policy runs) as they are printed. */
function startWatch(home: string): {
  rounds: () => Round[];
  prefetched: () => Prefetched[];
  stop: () => Promise<{ code: number | null; stderr: string }>;
  child: ChildProcessWithoutNullStreams;
} {
  // An interval far longer than the test: every round it prints is caused by a push notice or a local write.
  const child = spawn(process.execPath, [KITH_BIN, '--home', home, 'sync', '--watch', '--interval', '600', '--json']);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const lines = (): (Round | Prefetched)[] =>
    out
      .split('\n')
      .slice(0, -1)
      .map((l) => JSON.parse(l) as Round | Prefetched);
  return {
    child,
    rounds: () => lines().filter((l): l is Round => 'pushed' in l),
    prefetched: () => lines().filter((l): l is Prefetched => 'blobs' in l),
    stop: async () => {
      child.kill('SIGTERM');
      return { code: await exited, stderr: err };
    },
  };
}

async function waitFor(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  for (const started = Date.now(); !ok(); await new Promise((r) => setTimeout(r, 50))) {
    if (Date.now() - started > ms) throw new Error(`timed out waiting for ${what}`);
  }
}

describe('kith sync --watch through a relay', () => {
  let dir: string;
  let relay: ServedRelay;
  let a: string;
  let b: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kith-cli-watch-'));
    relay = await serveRelay(dir, ['--data', join(dir, 'relay')]);
    a = join(dir, 'a');
    b = join(dir, 'b');
    const { recoveryCode } = kithJson<{ recoveryCode: string }>(a, ['init', '--remote', `${relay.url}/family`, '--name', 'laptop']);
    kithJson(b, ['restore', '--remote', `${relay.url}/family`, '--recovery-code', recoveryCode, '--name', 'phone']);
  });
  after(async () => {
    await relay?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a device catching up reads segments in batches', async () => {
    // The relay's log arrives through a pipe while this process is blocked in spawnSync: let it drain first.
    const settled = async (): Promise<number> => {
      await new Promise((r) => setTimeout(r, 300));
      return relay
        .log()
        .split('\n')
        .filter(Boolean)
        .filter((l) => (JSON.parse(l) as { route?: string }).route?.endsWith('/batch-get')).length;
    };
    kithJson(a, ['put', 'notes', 'first', '{"n":1}', '--sync']);
    kithJson(a, ['put', 'notes', 'second', '{"n":2}', '--sync']);
    const before = await settled();
    kithJson(b, ['pull']);
    assert.deepEqual(kithJson(b, ['get', 'notes', 'second']), { id: 'second', n: 2 });
    assert.equal(await settled(), before + 1, 'two new segments, one batched read');
  });

  test('a write made by another process is pushed at once, and the other device pulls it on the push notice', async () => {
    const wa = startWatch(a);
    const wb = startWatch(b);
    try {
      // Each watcher's first round runs at start; after it, only events make rounds.
      await waitFor('first rounds', () => wa.rounds().length >= 1 && wb.rounds().length >= 1);
      kithJson(a, ['put', 'notes', 'live', '{"by":"laptop"}']); // no --sync: the watcher on A must push it
      await waitFor('A pushes the write', () => wa.rounds().some((r) => r.pushed >= 1));
      await waitFor('B pulls it on the push notice', () => wb.rounds().some((r) => r.pulled >= 1));
      // And the other way, while both keep running.
      kithJson(b, ['patch', 'notes', 'live', '{"seen":true}']);
      await waitFor('A pulls the patch', () => wa.rounds().some((r) => r.pulled >= 1));
    } finally {
      const [ra, rb] = await Promise.all([wa.stop(), wb.stop()]);
      assert.equal(ra.code, 0, ra.stderr);
      assert.equal(rb.code, 0, rb.stderr);
    }
    assert.deepEqual(kithJson(b, ['get', 'notes', 'live']), { id: 'live', by: 'laptop', seen: true });
    assert.deepEqual(kithJson(a, ['get', 'notes', 'live']), { id: 'live', by: 'laptop', seen: true });
  });

  test('with a prefetch policy, the watcher fetches the blob a new record references in the round that pulls it', async () => {
    kithJson(b, ['blob', 'policy', '--prefetch', 'all']);
    const wb = startWatch(b);
    try {
      await waitFor('first round', () => wb.rounds().length >= 1);
      const file = join(dir, 'photo.bin');
      writeFileSync(file, Buffer.alloc(300_000, 7));
      const { ref } = kithJson<{ ref: string }>(a, ['blob', 'put', file]);
      kithJson(a, ['put', 'notes', 'photo', JSON.stringify({ photo: ref }), '--sync']);
      await waitFor('B prefetches the blob', () => wb.prefetched().some((p) => p.blobs.fetched >= 1));
    } finally {
      const r = await wb.stop();
      assert.equal(r.code, 0, r.stderr);
      kithJson(b, ['blob', 'policy', '--prefetch', 'none']);
    }
    assert.ok((kithJson<{ cached: number }[]>(b, ['blob', 'ls'])[0]?.cached ?? 0) > 0, "held in B's cache");
  });
});
