import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

test('the relay client installs with core only: no native or server dependency, ws an optional peer', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    dependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
    peerDependenciesMeta?: Record<string, { optional?: boolean }>;
    exports: Record<string, unknown>;
  };
  assert.deepEqual(Object.keys(pkg.dependencies ?? {}), ['@kith/core']);
  assert.deepEqual(Object.keys(pkg.peerDependencies ?? {}), ['ws']);
  assert.equal(pkg.peerDependenciesMeta?.['ws']?.optional, true);
  assert.deepEqual(Object.keys(pkg.exports).sort(), ['.', './protocol']);
});
