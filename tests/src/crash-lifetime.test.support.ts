/**
 * kill -9 during `kith snapshot` and during `kith compact` (issue #15),
 * with real CLI processes: two devices write, sync, snapshot and compact in
 * turns, the command under test killed at a random moment (on a folder
 * remote, every other one as soon as it has changed the remote: a
 * snapshot's first chunks landed, or a compaction's first deletions done).
 * Afterwards every device, a new one included, syncs; no acknowledged write
 * is lost, the devices agree, a snapshot and a compaction complete, the new
 * device starts from the snapshot, and `kith check --read-data` finds no
 * problem but the chunks no snapshot lists (those blob GC collects).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRandom } from '@kith/core/testing';
import { spawnRelayProcess, type RelayProcess } from '@kith/relay-server/testing';
import { kith, kithJsonAsync as kithJson } from 'kith/testing';

type Rec = { id: string; [k: string]: unknown };

/** A remote URL for the devices; on a folder remote, `folder` is its directory (watched to kill a command once it changed the remote). */
export interface CrashRemote {
  readonly url: string;
  readonly folder?: string;
}

/** The command killed: `snapshot`, or `compact --grace-hours 0`. */
export type Killed = 'snapshot' | 'compact';

type Problem = { kind: string; key: string; code: string };

/** Files in `dir`, or in its subdirectories with `deep`. */
function files(dir: string | undefined, deep = false): number {
  if (!dir || !existsSync(dir)) return 0;
  const names = readdirSync(dir);
  return deep ? names.reduce((n, d) => n + files(join(dir, d)), 0) : names.length;
}

/** Runs `rounds` rounds in which `killed` is killed on each of two CLI devices on `remoteOf(dir)`, then checks the promises. */
export async function runLifetimeCrashRounds(killed: Killed, rounds: number, remoteOf: (dir: string) => CrashRemote | Promise<CrashRemote>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), `kith-crash-${killed}-`));
  try {
    const remote = await remoteOf(dir);
    const at = (sub: string): string | undefined => remote.folder && join(remote.folder, sub);
    // What the remote holds, as far as a folder shows it: a kill "mid-way" left it changed but the command unfinished.
    const layout = () => ({ chunks: files(at('blobs/chunks')), snapshots: files(at('snapshots')), segments: files(at('segments'), true) });
    const [a, b, c] = [join(dir, 'a'), join(dir, 'b'), join(dir, 'c')];
    const { recoveryCode } = await kithJson<{ recoveryCode: string }>(a, ['init', '--remote', remote.url, '--name', 'A']);
    await kithJson(b, ['restore', '--remote', remote.url, '--recovery-code', recoveryCode, '--name', 'B']);
    const rnd = seededRandom(Number(process.env['KITH_CRASH_SEED'] ?? 20261206));
    const between = (lo: number, hi: number): number => lo + (((rnd(2)[0]! << 8) | rnd(1)[0]!) % (hi - lo));
    const acked = new Set<string>();
    const put = async (home: string, id: string, round: number): Promise<void> => {
      await kithJson(home, ['put', 'c', id, JSON.stringify({ from: home === a ? 'A' : 'B', round })]);
      acked.add(id);
    };
    let kills = 0;
    let midWay = 0;
    // Kill times are drawn within how long the command last took when it ran to the end (from 30 % of it: on a quiet machine
    // the bundled CLI runs a small compaction in ~140 ms), so they land mid-flight on a slow machine and on a fast one.
    let took = 2500;
    const args = killed === 'snapshot' ? ['snapshot', '--json'] : ['compact', '--grace-hours', '0', '--json'];
    const run = async (home: string, watched: boolean): Promise<void> => {
      const started = Date.now();
      const before = layout();
      const want = between(1, 3);
      const changed = (): boolean => {
        const now = layout();
        return killed === 'snapshot' ? now.chunks >= before.chunks + want : now.segments + now.snapshots <= before.segments + before.snapshots - want;
      };
      // Watched: the directories whose entries the command changes, so the kill follows the change at once.
      const dirs = (): string[] => {
        if (killed === 'snapshot') return [at('blobs/chunks')!];
        const segments = at('segments')!;
        return [at('snapshots')!, ...(existsSync(segments) ? readdirSync(segments).map((d) => join(segments, d)) : [])];
      };
      const r = await kith(
        home,
        args,
        watched && remote.folder ? { killWhen: changed, watchDirs: dirs() } : { killAfterMs: between(Math.round(took * 0.3), Math.round(took * 1.15)) },
      );
      if (r.signal) {
        kills++;
        const now = layout();
        // Mid-way: chunks sent but no manifest yet; or some deletions done (the command was still running).
        if (
          killed === 'snapshot'
            ? now.chunks > before.chunks && now.snapshots === before.snapshots
            : now.segments + now.snapshots < before.segments + before.snapshots
        )
          midWay++;
      } else {
        assert.equal(r.code, 0, r.stderr);
        took = Date.now() - started;
      }
    };
    for (let round = 0; round < rounds; round++) {
      const file = join(dir, `r${round}.jsonl`);
      const ids = Array.from({ length: 400 }, (_, i) => `r${round}-${i}`);
      writeFileSync(file, ids.map((id, i) => JSON.stringify({ id, body: `${round}:${i} `.padEnd(300, 'x'), i, round })).join('\n'));
      await kithJson(a, ['import', 'c', file]);
      ids.forEach((id) => acked.add(id));
      await put(b, `b${round}`, round);
      if (killed === 'compact') {
        // History for compaction to delete: a few pushes from each device, a snapshot over them, every device's acknowledgement.
        for (let i = 0; i < 3; i++)
          for (const home of [a, b]) {
            await put(home, `${home === a ? 'a' : 'b'}${round}-${i}`, round);
            await kithJson(home, ['sync']);
          }
        await kithJson(a, ['snapshot']);
        await kithJson(b, ['sync']);
      } else await kithJson(b, ['sync']);
      // Each device's command syncs first (A's import and puts are pushed then), and is killed somewhere along the way.
      await run(a, round % 2 === 1);
      await put(a, `a${round}`, round);
      await kithJson(b, ['sync']);
      await run(b, round % 2 === 0);
    }
    // Settle without kills: every device syncs, a snapshot and a compaction complete, a new device joins.
    for (let i = 0; i < 2; i++) for (const home of [a, b]) await kithJson(home, ['sync']);
    assert.equal((await kithJson<{ records: number }>(a, ['snapshot'])).records, acked.size);
    await kithJson(b, ['sync']);
    if (killed === 'compact') {
      // A compaction that runs to the end finishes what the killed ones left: nothing more to delete after it.
      await kithJson(b, ['compact', '--grace-hours', '0']);
      assert.equal((await kithJson<{ deleted: number }>(a, ['compact', '--grace-hours', '0', '--dry-run'])).deleted, 0);
    }
    await kithJson(c, ['restore', '--remote', remote.url, '--recovery-code', recoveryCode, '--name', 'C']);
    const first = await kithJson<{ pulled: number; warnings: unknown[] }>(c, ['sync']);
    assert.deepEqual(first.warnings, []);
    assert.ok(first.pulled < acked.size, `the new device replayed ${first.pulled} changes instead of starting from the snapshot`);
    for (const home of [a, b]) await kithJson(home, ['sync']);
    const recs = await kithJson<Rec[]>(a, ['ls', 'c']);
    for (const home of [b, c]) assert.deepEqual(await kithJson<Rec[]>(home, ['ls', 'c']), recs, 'devices converged');
    const have = new Set(recs.map((r) => r.id));
    for (const id of acked) assert.ok(have.has(id), `acknowledged write ${id} lost`);
    assert.equal(have.size, acked.size);
    // What blob GC would mark now: with no blob in these vaults, chunks no snapshot lists (a killed snapshot's, or those of one compaction deleted) that no earlier GC marked.
    const { marked } = await kithJson<{ marked: number }>(a, ['blob', 'gc', '--dry-run']);
    for (const home of [a, b, c]) {
      // `check` exits 1 when it finds a problem: read its report either way.
      const r = await kith(home, ['check', '--read-data', '--json']);
      const report = JSON.parse(r.stdout) as { problems: Problem[]; checked: { chunks: number; marks: number } };
      // Nothing but chunks no snapshot lists, which GC collects: a live snapshot's chunks are referenced.
      const strays = report.problems.filter((p) => p.kind === 'unreferenced' && p.code === 'KITH_UNREFERENCED_OBJECT' && p.key.startsWith('blobs/chunks/'));
      assert.deepEqual(
        report.problems.filter((p) => !strays.includes(p)),
        [],
      );
      const { checked } = report;
      assert.ok(strays.length < checked.chunks, `the snapshots' chunks are referenced (${strays.length} of ${checked.chunks} unreferenced)`);
      // Compaction runs GC after deleting snapshots: a stray chunk is one GC marked then, or marks now.
      assert.ok(strays.length <= marked + checked.marks, `${strays.length} unreferenced chunks, GC marks ${marked} and has marked ${checked.marks}`);
      assert.equal(r.code, report.problems.length ? 1 : 0, r.stderr);
      assert.equal((await kithJson<{ pending: number }>(home, ['status'])).pending, 0);
    }
    assert.ok(kills >= rounds, `the test killed ${killed} mid-flight (${kills} kills)`);
    if (remote.folder) assert.ok(midWay >= rounds / 2, `kills after ${killed} changed the remote and before it finished: ${midWay}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Registers the crash tests of `killed`: on a folder remote, and through a relay process. */
export function crashTests(killed: Killed, rounds: number): void {
  const what = `kill -9 during kith ${killed} (${rounds} rounds × 2 devices) loses nothing and leaves a usable remote`;
  test(`folder remote: ${what}`, { timeout: 15 * 60_000 }, async () => {
    await runLifetimeCrashRounds(killed, rounds, (dir) => ({ url: join(dir, 'remote'), folder: join(dir, 'remote') }));
  });
  test(`relay process: ${what}`, { timeout: 15 * 60_000 }, async () => {
    let relay: RelayProcess | undefined;
    try {
      await runLifetimeCrashRounds(killed, rounds, async (dir) => {
        relay = await spawnRelayProcess(join(dir, 'relay'));
        return { url: `${relay.url}/crash-${killed}` };
      });
    } finally {
      await relay?.stop();
    }
  });
}
