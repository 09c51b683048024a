import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { StoreTx } from '@kith/core/adapter';
import { openSqliteStore } from './index.js';
import { inTempDir, storeFailed } from './sqlite-store.test.support.js';

/** Starts a child `node` process running `script` (ES module text that may import the package as `STORE`). */
function spawnChild(script: string): ChildProcessByStdio<null, Readable, Readable> {
  const body = script.replaceAll('STORE', JSON.stringify(new URL('./index.js', import.meta.url).href));
  return spawn(process.execPath, ['--input-type=module', '-e', body], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs a child (see {@link spawnChild}); resolves with its exit code and stderr. */
function runChild(script: string): Promise<{ code: number | null; stderr: string }> {
  const child = spawnChild(script);
  child.stdout.resume(); // not read; drained so a chatty child never blocks
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
}

/**
 * Runs a child that prints a running count after each acknowledged write,
 * kills it with SIGKILL once the count reaches `target`, and returns the
 * highest count it printed (at least `from`).
 */
async function killAfter(script: string, from: number, target: number): Promise<number> {
  let acknowledged = from;
  const child = spawnChild(script);
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, signal) => resolve(signal)));
  let buffered = '';
  child.stdout.on('data', (d: Buffer) => {
    buffered += d.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) acknowledged = Math.max(acknowledged, Number(line));
    if (acknowledged >= target) child.kill('SIGKILL');
  });
  assert.equal(await exited, 'SIGKILL', stderr);
  return acknowledged;
}

/**
 * A child script that writes forever, one transaction per write: record `r<n>`, then `append`
 * (statements on `tx` and `n`), then the counter; after each, `after` (statements on `s` and `n`),
 * then it prints the count.
 */
function counterWriter(file: string, append: string, after = ''): string {
  return `import { openSqliteStore } from STORE;
    const s = await openSqliteStore(${JSON.stringify(file)});
    let n = (await s.read((tx) => tx.getMeta('count'))) ?? 0;
    for (;;) {
      await s.write(async (tx) => {
        await tx.putRecords([{ collection: 'c', id: 'r' + n, fields: { n }, deleted: false, state: {}, conflicted: false, updated: 'u' }]);
        ${append}
        await tx.setMeta('count', n + 1);
      });
      n++;
      ${after}
      process.stdout.write(n + '\\n');
    }`;
}

/** Three rounds of {@link killAfter} 50 more writes, each followed by `check` on the reopened store. */
async function killRounds(file: string, script: string, check: (tx: StoreTx, acknowledged: number) => Promise<void>): Promise<void> {
  let acknowledged = 0;
  for (let round = 0; round < 3; round++) {
    acknowledged = await killAfter(script, acknowledged, acknowledged + 50);
    const store = await openSqliteStore(file);
    await store.read((tx) => check(tx, acknowledged));
    await store.close();
  }
}

describe('sqlite store specifics', () => {
  test('a lock held past busyTimeoutMs fails with KITH_STORE_FAILED, reads still run, and the store recovers', async () => {
    await inTempDir(async (dir) => {
      const file = join(dir, 'kith.db');
      const store = await openSqliteStore(file, { busyTimeoutMs: 50 });
      await store.write((tx) => tx.setMeta('m', 'before'));
      const other = new Database(file);
      other.exec('BEGIN IMMEDIATE');
      try {
        await assert.rejects(
          store.write((tx) => tx.setMeta('m', 'during')),
          storeFailed(/locked by another kith process/),
        );
        // WAL: readers are not blocked by another process's writer.
        assert.equal(await store.read((tx) => tx.getMeta('m')), 'before');
      } finally {
        other.exec('ROLLBACK');
        other.close();
      }
      await store.write((tx) => tx.setMeta('m', 'after'));
      assert.equal(await store.read((tx) => tx.getMeta('m')), 'after');
      await store.close();
    });
  });

  test('two processes writing the same file at once: every row lands, no lock error surfaces', async () => {
    await inTempDir(async (dir) => {
      const file = join(dir, 'kith.db');
      const store = await openSqliteStore(file);
      const child = runChild(
        `import { openSqliteStore } from STORE;
         const s = await openSqliteStore(${JSON.stringify(file)});
         for (let i = 0; i < 300; i++) await s.write((tx) => tx.appendOutbox([{ from: 'child', i }]));
         await s.close();`,
      );
      for (let i = 0; i < 300; i++) await store.write((tx) => tx.appendOutbox([{ from: 'parent', i }]));
      const { code, stderr } = await child;
      assert.equal(code, 0, stderr);
      assert.equal(await store.read((tx) => tx.countOutbox()), 600);
      const all = await store.read((tx) => tx.readOutbox(1000));
      assert.equal(new Set(all.map((e) => e.seq)).size, 600, 'every seq distinct');
      for (const from of ['parent', 'child']) {
        assert.deepEqual(
          all.filter((e) => e.op['from'] === from).map((e) => e.op['i']),
          Array.from({ length: 300 }, (_, i) => i),
          `${from}'s writes in order`,
        );
      }
      await store.close();
    });
  });

  test('kill -9 in the middle of writing loses no acknowledged write and leaves no half-applied one', async () => {
    await inTempDir(async (dir) => {
      const file = join(dir, 'kith.db');
      // Each transaction writes a record, an outbox entry and the counter; the child reports a
      // count only after its write resolved, and is killed while writing the next ones.
      await killRounds(file, counterWriter(file, 'await tx.appendOutbox([{ n }]);'), async (tx, acknowledged) => {
        const count = (await tx.getMeta('count')) as number;
        assert.ok(count >= acknowledged, `acknowledged ${acknowledged}, kept ${count}`);
        const all = Array.from({ length: count + 1 }, (_, i) => `r${i}`);
        const found = await tx.getRecords('c', all);
        assert.equal(found.size, count, 'records match the counter');
        assert.equal(found.has(`r${count}`), false);
        assert.equal(await tx.countOutbox(), count, 'outbox matches the counter');
      });
    });
  });

  test('kill -9 while writing own ops and pushing: every acknowledged write keeps its record, op and one history entry', async () => {
    await inTempDir(async (dir) => {
      const file = join(dir, 'kith.db');
      // Each write is a record, an own op (its history inside the outbox row) and the counter; every
      // few writes a "push" removes the older half of the outbox, moving that history into the log.
      const script = counterWriter(
        file,
        "await tx.appendOwnOps([{ c: 'c', i: 'r' + n, t: String(n).padStart(13, '0'), k: 'p', s: { n }, a: true }], 'dev1');",
        `if (n % 7 === 0) {
          await s.write(async (tx) => {
            const pending = await tx.readOutbox(1e6);
            if (pending.length > 1) await tx.deleteOutbox(pending[Math.floor(pending.length / 2)].seq);
          });
        }`,
      );
      await killRounds(file, script, async (tx, acknowledged) => {
        const count = (await tx.getMeta('count')) as number;
        assert.ok(count >= acknowledged, `acknowledged ${acknowledged}, kept ${count}`);
        assert.equal((await tx.getRecords('c', [`r${count - 1}`, `r${count}`])).size, 1, 'records match the counter');
        const history = await tx.readLog({ collection: 'c' });
        assert.deepEqual(
          history.map((e) => e.id),
          Array.from({ length: count }, (_, i) => `r${i}`),
          'one history entry per write, in order, none lost or doubled',
        );
        const pending = await tx.readOutbox(1e6);
        assert.deepEqual(
          pending.map((e) => e.op['i']),
          Array.from({ length: pending.length }, (_, i) => `r${count - pending.length + i}`),
          'the outbox holds the newest writes',
        );
      });
    });
  });

  test('several processes creating the same new store at once all succeed', async () => {
    await inTempDir(async (dir) => {
      const file = join(dir, 'home', 'kith.db');
      // Every process starts opening at the same instant, so creation and migration race.
      const startAt = Date.now() + 700;
      const script = (who: string): string =>
        `import { openSqliteStore } from STORE;
         while (Date.now() < ${startAt}) {}
         const s = await openSqliteStore(${JSON.stringify(file)});
         for (let i = 0; i < 20; i++) await s.write((tx) => tx.appendOutbox([{ who: ${JSON.stringify(who)}, i }]));
         await s.close();`;
      const results = await Promise.all(['a', 'b', 'c'].map((who) => runChild(script(who))));
      for (const { code, stderr } of results) assert.equal(code, 0, stderr);
      const store = await openSqliteStore(file);
      assert.equal(await store.read((tx) => tx.countOutbox()), 60);
      await store.close();
    });
  });
});
