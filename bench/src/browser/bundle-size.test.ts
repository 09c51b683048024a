import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bundleApp, bundleSizes, packageOf } from './bundle-size.js';

// No browser needed: esbuild alone. Figures are sizes, not timings, so they hold on a loaded machine.
test('the small web app on Kith bundles with Argon2 (hash-wasm) out of its main chunk, beside the Yjs app', { timeout: 120_000 }, async () => {
  const { kith, yjs, ratio } = await bundleSizes();
  assert.equal(kith.hashWasmInMain, false, 'hash-wasm is in the main chunk: a page that never uses a password would load Argon2');
  assert.ok(kith.chunks >= 2, 'Argon2 has a chunk of its own');
  for (const b of [kith, yjs]) {
    assert.ok(b.mainGzip > 0 && b.mainGzip < b.mainBytes, JSON.stringify(b));
    assert.ok(b.totalGzip >= b.mainGzip);
  }
  assert.ok(Number.isFinite(ratio) && ratio > 0);
});

/**
 * Code a page that opens a vault, puts, lists and syncs does not need at
 * start, loaded by a dynamic `import()` where it is used. Each must be in
 * the bundle (so a rename cannot make this pass by itself) and in no main
 * chunk: a static import that pulls one back fails here, whatever the bytes.
 */
const LAZY = [
  'node_modules/hash-wasm/', // Argon2: a password
  'node_modules/@noble/curves/', // X25519 and Ed25519 public keys: making keys, sealing and opening epoch keys, pairing
  'packages/core/dist/crypto/curves.js',
  'packages/core/dist/crypto/password-keys.js', // Argon2 and the password's key pairs
  'packages/core/dist/identity/pairing.js', // vault.devices.pair, Vault.join
  'packages/core/dist/identity/epoch-seals.js', // sealing epoch keys, opening one this device lacks
  'packages/core/dist/identity/remote-auth.js', // a key lent before the device is in its registry
  // Through vault/on-demand.js:
  'packages/core/dist/vault/lifecycle.js', // create, restore, join: a returning device only opens
  'packages/core/dist/vault/device-admin.js', // rename, revoke, password, recovery code
  'packages/core/dist/check/index.js', // vault.check()
  'packages/core/dist/check/segments.js',
];

test('what a page needs only to make a vault, pair, revoke, set a password or check stays out of the main chunk', { timeout: 120_000 }, async () => {
  const { size, modules } = await bundleApp('./app-kith.js');
  for (const path of LAZY) {
    const inMain = [...modules.main.keys()].filter((m) => m.includes(path));
    assert.deepEqual(inMain, [], `${path} is in the main chunk: something imports it statically`);
    assert.ok(
      [...modules.lazy.keys()].some((m) => m.includes(path)),
      `${path} is in no chunk at all: update this list if it was renamed`,
    );
  }
  // What the page does need is there: the open path, records and sync.
  for (const path of ['packages/core/dist/vault/open.js', 'packages/core/dist/sync/pull.js', 'packages/indexeddb/dist/', 'packages/relay/dist/client/']) {
    assert.ok(
      [...modules.main.keys()].some((m) => m.includes(path)),
      `${path} is not in the main chunk`,
    );
  }
  assert.ok((size.mainByPackage['@kith/core'] ?? 0) > 0);
  assert.equal(
    Object.values(size.mainByPackage).reduce((a, b) => a + b, 0),
    [...modules.main.values()].reduce((a, b) => a + b, 0),
  );
});

test('packageOf names workspace packages and dependencies', () => {
  assert.equal(packageOf('packages/core/dist/vault/open.js'), '@kith/core');
  assert.equal(packageOf('node_modules/@noble/hashes/sha2.js'), '@noble/hashes');
  assert.equal(packageOf('node_modules/hash-wasm/dist/index.esm.js'), 'hash-wasm');
  assert.equal(packageOf('bench/dist/browser/app-kith.js'), 'bench/dist/browser/app-kith.js');
});
