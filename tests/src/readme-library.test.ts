/**
 * The README's library example, run as an app developer would: the
 * packages it imports (and the workspace packages they depend on) are
 * `npm pack`ed, installed from those tarballs into a fresh project outside
 * the repository (dependencies from the npm registry, as anyone gets
 * them), and the example runs there as printed. The example and the line
 * it prints are read from README.md (the block after the
 * `<!-- library-example ... -->` marker), so README and test cannot drift.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { bareImports, npm, REPO, workspacePackages } from './pack.js';

const README = readFileSync(join(REPO, 'README.md'), 'utf8');

/** The example's code and the line the README says it prints. */
function libraryExample(): { code: string; prints: string } {
  const m = /^<!-- library-example\b[^>]*-->\n```js\n([\s\S]*?)^```/m.exec(README);
  if (!m) throw new Error('README.md has no ```js block after a <!-- library-example --> marker');
  const before = README.slice(0, m.index).split(/^## /m).pop() ?? '';
  const prints = /prints `([^`]+)`/.exec(before)?.[1];
  if (prints === undefined) throw new Error('the README does not say what the library example prints ("prints `…`")');
  return { code: m[1]!, prints };
}

/** The workspace packages `code` imports and, transitively, the workspace packages they depend on: what must be packed. */
function packagesFor(code: string): { names: string[]; dirs: string[] } {
  const byName = new Map(workspacePackages().map((p) => [p.manifest.name, p]));
  const names = [...new Set(bareImports(code).filter((s) => byName.has(s)))];
  const dirs = new Set<string>();
  for (const queue = [...names], seen = new Set<string>(); queue.length > 0;) {
    const name = queue.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const p = byName.get(name)!;
    dirs.add(p.dir);
    queue.push(...Object.keys(p.manifest.dependencies ?? {}).filter((d) => byName.has(d)));
  }
  return { names, dirs: [...dirs] };
}

test('the README says how to depend on Kith: an npm install line for every package its library example imports', () => {
  const section = /^## Depend on Kith from another project\n([\s\S]*?)(?=^## )/m.exec(README)?.[1];
  assert.ok(section, 'README.md has a "## Depend on Kith from another project" section');
  const installs = [...section.matchAll(/^npm install (.+)$/gm)].flatMap((m) => m[1]!.split('#')[0]!.trim().split(/\s+/));
  const { names } = packagesFor(libraryExample().code);
  assert.ok(names.length > 0, 'the example imports Kith packages');
  assert.deepEqual(
    names.filter((n) => !installs.includes(n)),
    [],
    'imported by the example but not in an npm install line',
  );
});

test("the README's library example runs in a fresh project that installed the packed packages", { timeout: 30 * 60_000 }, async () => {
  const { code, prints } = libraryExample();
  const { dirs } = packagesFor(code);
  const dir = mkdtempSync(join(tmpdir(), 'kith-app-'));
  try {
    assert.ok(relative(REPO, realpathSync(dir)).startsWith('..'), `the project ${dir} is outside the repository`);
    const tarballs = join(dir, 'tarballs');
    mkdirSync(tarballs);
    const files: string[] = [];
    for (const d of dirs) {
      const out = JSON.parse(await npm(d, ['pack', '--json', '--ignore-scripts', '--pack-destination', tarballs], 120_000)) as { filename: string }[];
      files.push(join(tarballs, out[0]!.filename));
    }
    const app = join(dir, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'kith-readme-app', private: true, type: 'module' }));
    // better-sqlite3 may compile from source (no prebuilt binary reachable): minutes on a loaded machine.
    await npm(app, ['install', '--no-audit', '--no-fund', '--prefer-offline', ...files], 25 * 60_000);
    const core = realpathSync(join(app, 'node_modules', '@kith', 'core'));
    assert.ok(!relative(app, core).startsWith('..'), `@kith/core is installed in the project, not linked to ${core}`);
    writeFileSync(join(app, 'example.mjs'), code);
    const { stdout } = await promisify(execFile)(process.execPath, ['example.mjs'], { cwd: app, timeout: 180_000 });
    assert.ok(stdout.split('\n').includes(prints), `the example printed ${JSON.stringify(prints)}; it printed:\n${stdout}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
