#!/usr/bin/env node
// Bundles the compiled CLI (packages/cli/dist/main.js, after `tsc -b`) into
// packages/cli/dist/bundle/: one ESM file that `kith` starts from, because
// resolving and loading ~110 separate modules was most of a command's start.
//
// Bundled: the @kith/* workspace packages (one copy of each, so a KithError
// thrown by the S3 or relay code is the class the CLI checks) and the small
// pure-JS libraries every command uses. Code behind a dynamic import()
// (S3, the relay client and server, Argon2) becomes separate chunks, read
// only by the commands that reach it. Every other package stays external
// and loads from node_modules as before: native ones (better-sqlite3), the
// AWS SDK (its own warnings, its own lazy loading), the relay server's
// Fastify and PostgreSQL, cli-progress (required only when a bar is drawn).
import { build } from 'esbuild';
import { rmSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../packages/cli/', import.meta.url));
const bundled = /^(@kith\/|commander$|@noble\/|@scure\/|hash-wasm$)/;

/** Everything but the bundled packages and relative imports stays an import from node_modules. */
const externals = {
  name: 'kith-externals',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:')) return { path: args.path, external: true };
      const name = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0];
      return bundled.test(name) ? undefined : { path: args.path, external: true };
    });
  },
};

const outdir = `${cli}dist/bundle`;

// `--if-stale` (scripts/test.mjs): only when a `tsc -b` ran since, by the rule bin/kith.js applies.
const mtime = (p) => statSync(p, { throwIfNoEntry: false })?.mtimeMs;
const bundleTime = mtime(`${outdir}/main.js`);
const fresh =
  bundleTime !== undefined &&
  ['cli', 'core', 'sqlite', 'folder', 'relay', 'relay-server', 'node', 's3'].every((p) => (mtime(`${cli}../${p}/tsconfig.tsbuildinfo`) ?? 0) <= bundleTime);
if (process.argv.includes('--if-stale') && fresh) process.exit(0);
rmSync(outdir, { recursive: true, force: true });
const writer = fileURLToPath(import.meta.resolve('@kith/relay-server/object-db-writer'));
await build({
  // The relay server starts its writer thread by file, beside its own module (`@kith/relay-server`'s
  // `./object-db-writer` export): an entry of its own, beside the chunks, under the file's name.
  entryPoints: { main: `${cli}dist/main.js`, [basename(writer, '.js')]: writer },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // ES entries first: a dynamic import() of a CommonJS chunk would expose only `default` (hash-wasm's UMD main).
  mainFields: ['module', 'main'],
  // Bundled sources keep their own names in stack traces (--debug).
  minify: false,
  sourcemap: false,
  chunkNames: 'chunk-[hash]',
  plugins: [externals],
  logLevel: 'warning',
  legalComments: 'inline',
  // Bundled CommonJS (commander) requires Node's built-ins; an ES module has no `require` of its own.
  banner: { js: "import { createRequire as __kithCreateRequire } from 'node:module';\nconst require = __kithCreateRequire(import.meta.url);" },
});
