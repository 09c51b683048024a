import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bundleSizes } from './bundle-size.js';

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
