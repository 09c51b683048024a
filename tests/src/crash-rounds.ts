/**
 * Crash safety with real processes: `kill -9` during import, push and pull
 * at random moments, many rounds. No acknowledged write may be lost, no
 * import may be partial, and the devices must converge afterwards.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRandom } from '@kith/core/testing';
import { kith, kithJsonAsync as kithJson } from 'kith/testing';

const LINES = 1500;

type Rec = { id: string; [k: string]: unknown };

async function ids(home: string): Promise<Set<string>> {
  const recs = await kithJson<Rec[]>(home, ['ls', 'c']);
  return new Set(recs.map((r) => r.id));
}

/** One remote URL for both devices, or one each (e.g. two relay processes of one deployment). */
export type CrashRemotes = string | { readonly a: string; readonly b: string };

/** Runs `rounds` rounds of kill -9 against two CLI devices on `remoteOf(dir)`, then checks the promises. */
export async function runCrashRounds(rounds: number, remoteOf: (dir: string) => CrashRemotes | Promise<CrashRemotes>): Promise<void> {
  const ROUNDS = rounds;
  const dir = mkdtempSync(join(tmpdir(), 'kith-crash-'));
  try {
    const remotes = await remoteOf(dir);
    const [remoteA, remoteB] = typeof remotes === 'string' ? [remotes, remotes] : [remotes.a, remotes.b];
    const [a, b] = [join(dir, 'a'), join(dir, 'b')];
    const { recoveryCode } = await kithJson<{ recoveryCode: string }>(a, ['init', '--remote', remoteA, '--name', 'A']);
    await kithJson(b, ['restore', '--remote', remoteB, '--recovery-code', recoveryCode, '--name', 'B']);
    const rnd = seededRandom(Number(process.env['KITH_CRASH_SEED'] ?? 20261123));
    const between = (lo: number, hi: number): number => lo + (((rnd(2)[0]! << 8) | rnd(1)[0]!) % (hi - lo));
    const acked = { a: new Set<string>(), b: new Set<string>() };
    let kills = 0;
    // Kill times are drawn within how long each command last took when it ran to the end, so
    // they land mid-flight on a slow machine and on a fast one alike (a few still run to the end).
    const took: Record<string, number> = { import: 1200, put: 900, push: 1500, pull: 1500 };
    const run = async (home: string, args: string[], min: number) => {
      const started = Date.now();
      const r = await kith(home, args, { killAfterMs: between(min, Math.max(min + 50, Math.round(took[args[0]!]! * 1.15))) });
      if (!r.signal) took[args[0]!] = Date.now() - started;
      return r;
    };
    for (let round = 0; round < ROUNDS; round++) {
      // Import on A, killed at a random moment: all of the file or none of it.
      const file = join(dir, `r${round}.jsonl`);
      const roundIds = Array.from({ length: LINES }, (_, i) => `r${round}-${i}`);
      writeFileSync(file, roundIds.map((id, i) => JSON.stringify({ id, body: 'x'.repeat(200), i, round })).join('\n'));
      const imp = await run(a, ['import', 'c', file, '--json'], 50);
      if (imp.signal) kills++;
      else assert.equal(imp.code, 0, imp.stderr);
      const present = await ids(a);
      const got = roundIds.filter((id) => present.has(id)).length;
      assert.ok(got === 0 || got === LINES, `round ${round}: partial import (${got} of ${LINES})`);
      if (imp.code === 0) assert.equal(got, LINES, `round ${round}: acknowledged import missing`);
      if (got === LINES) for (const id of roundIds) acked.a.add(id);
      // A single acknowledged write on B.
      const put = await run(b, ['put', 'c', `b${round}`, JSON.stringify({ from: 'B', round }), '--json'], 100);
      if (put.signal) kills++;
      if (put.code === 0) acked.b.add(`b${round}`);
      // Push and pull on both, each killed at a random moment.
      for (const [home, cmd] of [
        [a, 'push'],
        [b, 'pull'],
        [b, 'push'],
        [a, 'pull'],
      ] as const) {
        const r = await run(home, [cmd, '--json'], 100);
        if (r.signal) kills++;
        else assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
      }
    }
    // Settle without kills: both devices converge and hold every acknowledged write.
    for (let i = 0; i < 2; i++) for (const home of [a, b]) await kithJson(home, ['sync']);
    const [recsA, recsB] = [await kithJson<Rec[]>(a, ['ls', 'c']), await kithJson<Rec[]>(b, ['ls', 'c'])];
    assert.deepEqual(recsA, recsB, 'devices converged');
    const have = new Set(recsA.map((r) => r.id));
    for (const id of [...acked.a, ...acked.b]) assert.ok(have.has(id), `acknowledged write ${id} lost`);
    const status = await kithJson<{ pending: number }>(a, ['status']);
    assert.equal(status.pending, 0);
    assert.ok(kills >= ROUNDS, `the test killed processes mid-flight (${kills} kills)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
