/**
 * What an app developer installs: every publishable package's tarball
 * (`npm pack --dry-run`) holds no compiled test and no test helper outside
 * a `testing/` entry, and the relay client installs without a native or
 * server module. The packages are read from the root package.json, so a
 * new package is held to the same rules the day it is added.
 *
 * The rule for helpers: every packed module outside a `testing/` folder is
 * reached from an entry the package declares for apps (`main`, `bin`, a
 * non-`testing` export) and imports nothing test-only; anything else (a
 * module only tests or a `testing` entry use) belongs under `testing/` or
 * out of the tarball (`"files": ["dist", "!dist/**\/*.test.*"]`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bareImports, entryPoints, packedFiles, reachable, workspacePackages } from './pack.js';

const TEST_FILE = /(^|\/)[^/]+\.test\.[^/]+$/;
const IN_TESTING = /(^|\/)testing\//;
const TEST_ONLY_IMPORT = /^(node:assert(\/strict)?|node:test|fast-check)$|(^|\/)testing$/;
/** What the relay client must not pull into an app: native modules, servers, other remotes, the Node store. */
const SERVER_OR_NATIVE = ['fastify', '@fastify/websocket', 'pg', 'better-sqlite3', '@kith/s3', '@kith/sqlite', 'ws'];

for (const { dir, manifest } of workspacePackages()) {
  test(`${manifest.name}: the tarball holds no test file and no test helper outside a testing/ entry`, { timeout: 240_000 }, async () => {
    const files = await packedFiles(dir);
    assert.deepEqual(
      files.filter((f) => TEST_FILE.test(f)),
      [],
      'compiled tests are packed',
    );
    const packed = new Set(files);
    const entries = entryPoints(manifest);
    const missing: string[] = [];
    const forApps = reachable(dir, packed, entries.shipped, missing);
    assert.deepEqual(missing, [], 'entries or modules name files the tarball lacks');
    const testingOnly = reachable(dir, packed, entries.testing, []);
    const problems: string[] = [];
    for (const f of files) {
      if (!/\.(c|m)?js$/.test(f) || IN_TESTING.test(f) || forApps.has(f) || typesOnly(readFileSync(join(dir, f), 'utf8'))) continue;
      problems.push(`${f}: ${testingOnly.has(f) ? 'only a testing entry uses it' : 'no entry of the package reaches it'}`);
    }
    for (const f of forApps) {
      for (const spec of bareImports(readFileSync(join(dir, f), 'utf8'))) if (TEST_ONLY_IMPORT.test(spec)) problems.push(`${f}: imports ${spec}`);
    }
    assert.deepEqual(problems, [], 'test helpers outside testing/');
  });
}

test('@kith/relay (the client) depends on @kith/core only: no native module, no server, no other remote', () => {
  const relay = workspacePackages().find((p) => p.manifest.name === '@kith/relay');
  assert.ok(relay, 'the workspace has @kith/relay');
  const m = relay.manifest;
  assert.deepEqual(
    Object.keys(m.dependencies ?? {}).filter((n) => n !== '@kith/core'),
    [],
    'dependencies beyond @kith/core',
  );
  const requiredPeers = Object.keys(m.peerDependencies ?? {}).filter((n) => m.peerDependenciesMeta?.[n]?.optional !== true);
  assert.deepEqual(
    requiredPeers.filter((n) => n !== '@kith/core'),
    [],
    'required peer dependencies beyond @kith/core',
  );
  const all = [...Object.keys(m.dependencies ?? {}), ...Object.keys(m.optionalDependencies ?? {}), ...requiredPeers];
  assert.deepEqual(
    all.filter((n) => SERVER_OR_NATIVE.includes(n)),
    [],
    'native or server dependencies',
  );
});

/** The JavaScript half of a types-only module (`export {};`): no code, so nothing to reach; its `.d.ts` is what apps use. */
function typesOnly(source: string): boolean {
  return (
    source
      .replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '')
      .replace(/export\s*\{\s*\};?/g, '')
      .trim() === ''
  );
}
