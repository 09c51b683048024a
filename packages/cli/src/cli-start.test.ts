/**
 * What a `kith` process loads before it answers (issue #17: CLI start).
 * Start time itself is measured by `npm run bench -- --only cli`; this
 * checks the causes, which do not depend on the machine's load: the
 * commands people run most start from the bundle, and never load code
 * only other commands need.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runKith } from './testing/index.js';

/** Packages that only some commands need: S3, Argon2 (passwords), the relay server, progress bars. */
const LAZY = /^(hash-wasm|@aws-sdk\/.*|@smithy\/.*|fastify|@fastify\/.*|pg|ws|cli-progress)$/;

/** A preload that logs every ES module loaded (through a hook) and every CommonJS one (at exit). */
function moduleLogger(dir: string): string {
  writeFileSync(
    join(dir, 'hooks.mjs'),
    `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  const r = await next(url, context);
  appendFileSync(process.env.KITH_TEST_MODULE_LOG, url + '\\n');
  return r;
}
`,
  );
  writeFileSync(
    join(dir, 'preload.mjs'),
    `import { createRequire, register } from 'node:module';
import { appendFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
register('./hooks.mjs', import.meta.url);
const require = createRequire(import.meta.url);
process.on('exit', () => appendFileSync(process.env.KITH_TEST_MODULE_LOG, Object.keys(require.cache).map((f) => pathToFileURL(f).href + '\\n').join('')));
`,
  );
  return pathToFileURL(join(dir, 'preload.mjs')).href;
}

/** The npm packages whose code a list of loaded files holds: by path, or by the source comments esbuild leaves in a bundle. */
function packagesIn(files: readonly string[]): Set<string> {
  const names = new Set<string>();
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//;
  for (const f of files) {
    const m = pkg.exec(f);
    if (m) names.add(m[1]!);
    else if (f.startsWith('file:'))
      for (const c of readFileSync(fileURLToPath(f), 'utf8').matchAll(/^\/\/ \S*?node_modules\/((?:@[^/]+\/)?[^/]+)\//gm)) names.add(c[1]!);
  }
  return names;
}

test('kith --version, get and status start from the bundle and load no S3, Argon2, relay server or progress bar code', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'kith-start-'));
  try {
    const home = join(dir, 'h');
    assert.equal(runKith(home, ['init', '--remote', join(dir, 'r')]).status, 0);
    assert.equal(runKith(home, ['put', 'notes', 'n1', '{"t":"hi"}']).status, 0);
    const preload = moduleLogger(dir);
    for (const args of [['--version'], ['get', 'notes', 'n1'], ['status']]) {
      const log = join(dir, `${args[0]}.log`);
      const r = runKith(home, args, { env: { NODE_OPTIONS: `--import ${preload}`, KITH_TEST_MODULE_LOG: log } });
      assert.equal(r.status, 0, r.stderr);
      const files = [
        ...new Set(
          readFileSync(log, 'utf8')
            .split('\n')
            .filter((l) => l !== '' && !l.startsWith(pathToFileURL(dir).href)),
        ),
      ];
      const own = files.filter((f) => f.startsWith('file:') && !f.includes('/node_modules/'));
      // bin/kith.js, the bundle's entry and its shared chunks (8 since the spaces code became a lazy chunk of its own: esbuild
      // groups the modules it shares with the entry by which dynamic imports reach them); unbundled, about 80 files. The time a
      // start takes is judged by the benchmark (`--only cli`), not here.
      assert.ok(own.length <= 12, `kith ${args.join(' ')} loaded ${own.length} files of its own:\n${own.join('\n')}`);
      const lazy = [...packagesIn(files)].filter((p) => LAZY.test(p));
      assert.deepEqual(lazy, [], `kith ${args.join(' ')} loaded ${lazy.join(', ')}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
