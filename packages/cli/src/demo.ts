/**
 * @module demo
 * `npm start`: a relay on localhost (`kith relay serve`, embedded SQLite)
 * and two devices syncing through it, all real `kith` processes, in a
 * temporary directory: real-time push, offline edits, a conflict. Exits 0
 * only if both devices end with identical records and conflict lists.
 * It ends with a URL that opens the same vault in the web app the relay
 * serves (see webAppLink). `--serve` leaves the relay running afterwards;
 * `--keep` keeps the files.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/kith.js', import.meta.url));
const keep = process.argv.includes('--keep');
const serve = process.argv.includes('--serve');
const dir = mkdtempSync(join(tmpdir(), 'kith-demo-'));
const homes = { A: join(dir, 'laptop'), B: join(dir, 'phone') };

/** `kith relay serve` in its own process; resolves with its URL once it listens. */
async function startRelay(): Promise<{ url: string; app: string | null; child: ChildProcess }> {
  const child = spawn(process.execPath, [BIN, 'relay', 'serve', '--port', '0', '--data', join(dir, 'relay'), '--json'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the relay exited (${code})`)));
    createInterface({ input: child.stdout }).once('line', resolve);
  });
  const said = JSON.parse(line) as { url: string; app?: string | null };
  return { url: said.url, app: said.app ?? null, child };
}

/** Stops a child with SIGTERM (graceful) and waits for it. */
function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

const bold = (s: string): string => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

function kith(device: 'A' | 'B', args: string[], input?: string): string {
  const shown = args.map((a) => (/[\s{}"]/.test(a) ? `'${a}'` : a)).join(' ');
  console.log(`  ${device === 'A' ? 'laptop' : 'phone '} $ kith ${shown}`);
  const r = spawnSync(process.execPath, [BIN, '--home', homes[device], ...args], { encoding: 'utf8', input });
  if (r.status !== 0) throw new Error(`kith ${shown} failed: ${r.stderr.trim()}`);
  return r.stdout;
}
const json = <T>(device: 'A' | 'B', args: string[], input?: string): T => JSON.parse(kith(device, [...args, '--json'], input)) as T;

/**
 * The web app's address with the vault's URL and recovery code in the
 * fragment (`#restore=`, base64url JSON): the page restores the vault as a
 * new device without typing. A fragment is never sent to the server, but it
 * stays in the browser's history: fine for a throwaway demo vault, never for
 * a real one.
 */
function webAppLink(relayUrl: string, vaultUrl: string, recoveryCode: string): string {
  return `${relayUrl}/#restore=${Buffer.from(JSON.stringify({ url: vaultUrl, code: recoveryCode })).toString('base64url')}`;
}

let relay: { url: string; app: string | null; child: ChildProcess } | undefined;
let link: string | undefined;
try {
  const started = Date.now();
  relay = await startRelay();
  const remote = `${relay.url}/family`;
  console.log(bold('Kith demo: two devices, one end-to-end encrypted vault, a relay on this machine\n'));
  console.log(`  $ kith relay serve   → listening on ${relay.url} (it stores only ciphertext)`);
  console.log(`  the vault's remote URL: ${remote}\n`);
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

  console.log(bold('\n3. Real time: the phone keeps syncing; the laptop writes and the relay tells the phone at once'));
  console.log('  phone  $ kith sync --watch   (in the background)');
  const watcher = spawn(process.execPath, [BIN, '--home', homes.B, 'sync', '--watch', '--interval', '600', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const rounds: { pulled: number }[] = [];
  let watchErr = '';
  watcher.stderr.setEncoding('utf8').on('data', (d: string) => (watchErr += d));
  createInterface({ input: watcher.stdout }).on('line', (l) => rounds.push(JSON.parse(l) as { pulled: number }));
  const until = async (ok: () => boolean, what: string): Promise<void> => {
    for (const t0 = Date.now(); !ok(); await new Promise((r) => setTimeout(r, 10))) {
      if (Date.now() - t0 > 20_000) throw new Error(`${what} did not happen within 20 s: ${watchErr.trim()}`);
    }
  };
  await until(() => rounds.length >= 1, "the phone's first sync round");
  const wrote = Date.now();
  json('A', ['put', 'notes', 'live', '{"title":"Live","body":"typed on the laptop"}', '--sync']);
  await until(() => rounds.some((r) => r.pulled > 0), 'the push notice');
  console.log(
    `     the phone had it ${Date.now() - wrote} ms after the laptop's command started (a fresh process; no polling: the phone syncs every 600 s otherwise)`,
  );
  await stop(watcher);
  json('A', ['rm', 'notes', 'live', '--sync']);
  json('B', ['sync']);

  console.log(bold('\n4. Offline edits both ways, a delete, and one concurrent edit of the same field'));
  json('B', ['patch', 'notes', 'ideas', '{"body":"a sync engine, end-to-end encrypted"}']);
  json('A', ['rm', 'notes', 'books']);
  json('A', ['patch', 'notes', 'groceries', '{"body":"oat milk"}', '--sync']);
  json('B', ['patch', 'notes', 'groceries', '{"body":"milk, eggs, bread"}']);
  for (const d of ['B', 'A'] as const) json(d, ['sync']);

  console.log(bold('\n5. Both devices now hold'));
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
    if (relay.app) {
      console.log(bold('\n6. The same vault in a browser: the relay serves the web app (a journal); the laptop writes two entries'));
      const entries = [
        { title: 'The demo ran', text: 'Two devices, a relay, and a conflict, all on this machine.', tags: ['kith'] },
        { title: 'Groceries, again', text: 'Oat milk won, or did it? Open the notes conflict on the laptop.', tags: ['home'] },
      ];
      entries.forEach((e, i) => json('A', ['put', 'entries', `demo-${i + 1}`, JSON.stringify({ ...e, date: new Date().toISOString().slice(0, 10) })]));
      json('A', ['push']);
      link = webAppLink(relay.url, remote, recoveryCode);
    }
  }
} catch (e) {
  console.error(`\ndemo failed: ${(e as Error).message}`);
  process.exitCode = 1;
}
if (relay && process.exitCode !== 1) {
  if (!link) console.log(`\n(No web app to show: \`npm run build\` builds it, and \`kith relay serve\` then serves it.)`);
  else if (serve) console.log(`\nOpen the demo vault in a browser (it restores as a new device, no typing):\n  ${bold(link)}`);
  else console.log(`\nWith \`npm start -- --serve\` the relay keeps running, and a link like this opens the vault in a browser:\n  ${link}`);
  if (link) console.log("  (The link carries the demo vault's recovery code after the #, which browsers never send to a server; this is for the demo only.)");
}
if (relay && serve && process.exitCode !== 1) {
  console.log(bold(`\nThe relay keeps running at ${relay.url} — Ctrl-C stops it and removes its temporary data.`));
  console.log(`  create a vault on it:  npx kith --home /tmp/my-device init --remote ${relay.url}/my-vault`);
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}
if (relay) await stop(relay.child);
if (keep) console.log(`\n(kept ${dir})`);
else rmSync(dir, { recursive: true, force: true });
