/**
 * @module demo
 * `npm start`: a real two-device sync through a folder remote, with real
 * `kith` processes, in a temporary directory. Exits 0 only if both devices
 * end with identical records and identical conflict lists.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/kith.js', import.meta.url));
const keep = process.argv.includes('--keep');
const dir = mkdtempSync(join(tmpdir(), 'kith-demo-'));
const remote = join(dir, 'remote');
const homes = { A: join(dir, 'laptop'), B: join(dir, 'phone') };

const bold = (s: string): string => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

function kith(device: 'A' | 'B', args: string[], input?: string): string {
  const shown = args.map((a) => (/[\s{}"]/.test(a) ? `'${a}'` : a)).join(' ');
  console.log(`  ${device === 'A' ? 'laptop' : 'phone '} $ kith ${shown}`);
  const r = spawnSync(process.execPath, [BIN, '--home', homes[device], ...args], { encoding: 'utf8', input });
  if (r.status !== 0) throw new Error(`kith ${shown} failed: ${r.stderr.trim()}`);
  return r.stdout;
}
const json = <T>(device: 'A' | 'B', args: string[], input?: string): T => JSON.parse(kith(device, [...args, '--json'], input)) as T;

try {
  const started = Date.now();
  console.log(bold(`Kith demo: two devices, one end-to-end encrypted vault, a folder remote (${remote})\n`));
  console.log(bold('1. The laptop creates the vault and imports three notes'));
  const { recoveryCode } = json<{ recoveryCode: string }>('A', ['init', '--remote', remote, '--name', 'laptop']);
  console.log(`     recovery code: ${recoveryCode}`);
  const file = join(dir, 'notes.jsonl');
  writeFileSync(
    file,
    [
      { id: 'groceries', title: 'Groceries', body: 'milk, eggs', pinned: true },
      { id: 'ideas', title: 'Ideas', body: 'a sync engine', pinned: false },
      { id: 'books', title: 'Books', body: 'Designing Data-Intensive Applications', pinned: true },
    ]
      .map((n) => JSON.stringify(n))
      .join('\n'),
  );
  json('A', ['import', 'notes', file]);
  json('A', ['push']);

  console.log(bold('\n2. The phone joins with the recovery code (it gets keys of its own) and syncs'));
  json('B', ['restore', '--remote', remote, '--recovery-code', recoveryCode, '--name', 'phone']);
  json('B', ['sync']);

  console.log(bold('\n3. Edits both ways, a delete, and one concurrent edit of the same field'));
  json('B', ['patch', 'notes', 'ideas', '{"body":"a sync engine, end-to-end encrypted"}']);
  json('A', ['rm', 'notes', 'books']);
  json('A', ['patch', 'notes', 'groceries', '{"body":"oat milk"}', '--sync']);
  json('B', ['patch', 'notes', 'groceries', '{"body":"milk, eggs, bread"}']);
  for (const d of ['B', 'A'] as const) json(d, ['sync']);

  console.log(bold('\n4. Both devices now hold'));
  const lsA = json<unknown[]>('A', ['ls', 'notes', '--order', 'title']);
  const lsB = json<unknown[]>('B', ['ls', 'notes', '--order', 'title']);
  const conflictsA = json<unknown[]>('A', ['conflicts']);
  const conflictsB = json<unknown[]>('B', ['conflicts']);
  const rows = (docs: unknown[]) => docs.map((d) => JSON.stringify(d));
  const left = rows(lsA);
  const right = rows(lsB);
  const width = Math.max(6, ...left.map((l) => l.length));
  console.log(`\n  ${'laptop'.padEnd(width)} │ phone`);
  for (let i = 0; i < Math.max(left.length, right.length); i++) console.log(`  ${(left[i] ?? '').padEnd(width)} │ ${right[i] ?? ''}`);
  console.log(`\n  conflicts (same list on both):\n    ${JSON.stringify(conflictsA)}`);

  const same = JSON.stringify(lsA) === JSON.stringify(lsB) && JSON.stringify(conflictsA) === JSON.stringify(conflictsB);
  if (!same || lsA.length !== 2 || conflictsA.length !== 1) {
    console.error('\nThe devices did not converge. This is a bug; please report it.');
    process.exitCode = 1;
  } else {
    console.log(bold(`\nConverged: identical records and conflicts on both devices (${((Date.now() - started) / 1000).toFixed(1)} s).`));
    console.log('Resolve the conflict with e.g. `kith resolve notes groceries --field body --keep`; see README.md for the CLI tour.');
  }
} catch (e) {
  console.error(`\ndemo failed: ${(e as Error).message}`);
  process.exitCode = 1;
} finally {
  if (keep) console.log(`\n(kept ${dir})`);
  else rmSync(dir, { recursive: true, force: true });
}
