import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kith, kithJsonAsync as kithJson, serveRelay, startKith } from './testing/index.js';

/** Two people, each with a vault of their own on `remoteOf(person)`, sharing A's space `club` (B a writer). */
async function twoPeopleSharing(dir: string, remoteOf: (p: 'a' | 'b') => string): Promise<{ a: string; b: string }> {
  const [a, b] = [join(dir, 'a'), join(dir, 'b')];
  await kithJson(a, ['init', '--remote', remoteOf('a'), '--name', 'ana']);
  await kithJson(b, ['init', '--remote', remoteOf('b'), '--name', 'ben']);
  await kithJson(a, ['space', 'create', 'club']);
  const inviting = startKith(a, ['space', 'invite', 'club', '--role', 'writer', '--yes', '--json', '--timeout', '300']);
  const { code } = JSON.parse(await inviting.firstLine) as { code: string };
  await kithJson(b, ['space', 'join', code, '--name', 'Ben']);
  assert.equal((await inviting.done).code, 0);
  // B's device certified, then A's seals the space's key to it.
  for (const h of [a, b, a, b]) await kithJson(h, ['sync']);
  return { a, b };
}

/** `kith sync --watch` on `home` until stopped; `ready` once its first round (which runs at start) is printed. */
function watch(home: string, intervalSeconds: number): { ready: Promise<void>; stop(): Promise<unknown> } {
  const stop = new AbortController();
  let printed: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (printed = resolve));
  const run = kith(home, ['sync', '--watch', '--interval', String(intervalSeconds), '--json'], {
    killWhen: () => stop.signal.aborted,
    onStdout: (s) => s.includes('\n') && printed(),
  });
  return {
    ready: Promise.race([ready, run.then((r) => Promise.reject(new Error(`the watcher on ${home} ended: ${r.stderr}`)))]),
    stop: async () => {
      stop.abort();
      return run;
    },
  };
}

/** Waits (generously, as the machine may be loaded) until `home` reads the space's record `id`. */
async function arrives(home: string, id: string, timeoutMs = 240_000): Promise<Record<string, unknown>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = await kith(home, ['get', '--space', 'club', 'notes', id, '--json']);
    if (r.code === 0) return JSON.parse(r.stdout) as Record<string, unknown>;
    if (Date.now() > end) assert.fail(`${id} never reached ${home}: ${r.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

test(
  'kith sync --watch through a relay: a space write made by another process is pushed by its watcher and pulled by the other member’s on the push notice',
  { timeout: 600_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kith-cli-spaces-watch-relay-'));
    const relay = await serveRelay(join(dir, 'relay-home'), ['--data', join(dir, 'relay-data')]);
    try {
      const { a, b } = await twoPeopleSharing(dir, (p) => `${relay.url}/person-${p}`);
      // Ten minutes between rounds: what crosses comes from local writes and push notices.
      const watchers = [watch(a, 600), watch(b, 600)];
      try {
        for (const w of watchers) await w.ready; // from here on, nothing makes a round but a write or a notice
        await kithJson(a, ['put', '--space', 'club', 'notes', 'n1', '{"by":"ana"}']);
        assert.deepEqual(await arrives(b, 'n1'), { id: 'n1', by: 'ana' });
        await kithJson(b, ['put', '--space', 'club', 'notes', 'n2', '{"by":"ben"}']);
        assert.deepEqual(await arrives(a, 'n2'), { id: 'n2', by: 'ben' });
      } finally {
        for (const w of watchers) await w.stop();
      }
    } finally {
      await relay.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'kith sync --watch through a folder: a space write made by another process is pushed by its watcher, and the other member’s watcher polls it in',
  { timeout: 600_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kith-cli-spaces-watch-folder-'));
    try {
      const { a, b } = await twoPeopleSharing(dir, (p) => join(dir, `remote-${p}`));
      // A's rounds are ten minutes apart (only the write can make it push); B polls every second.
      const watchers = [watch(a, 600), watch(b, 1)];
      try {
        for (const w of watchers) await w.ready; // from here on, A makes a round only for a write
        await kithJson(a, ['put', '--space', 'club', 'notes', 'n1', '{"by":"ana"}']);
        assert.deepEqual(await arrives(b, 'n1'), { id: 'n1', by: 'ana' });
      } finally {
        for (const w of watchers) await w.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
