import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

// @kith/core must run unchanged in a browser: bundle its public entry for
// the browser platform; any Node built-in import fails the build.
test('the public entry bundles for the browser with no Node built-ins', async () => {
  const entry = fileURLToPath(new URL('./index.js', import.meta.url));
  const result = await build({ entryPoints: [entry], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent', metafile: true });
  assert.equal(result.errors.length, 0);
  const inputs = Object.keys(result.metafile.inputs);
  assert.ok(
    inputs.some((p) => p.includes('vault.js')),
    'the Vault is in the bundle',
  );
  assert.ok(!inputs.some((p) => p.startsWith('node:')), 'no node: imports');
  const text = result.outputFiles[0]!.text;
  assert.ok(!/from\s*["'](node:|fs|path|crypto)["']/.test(text), 'no Node module imports left in the output');
});

// Browser adapters and the relay client import these entries too.
for (const name of ['adapter', 'relay', 'spaces/index']) {
  test(`the ${name} entry bundles for the browser with no Node built-ins`, async () => {
    const entry = fileURLToPath(new URL(`./${name}.js`, import.meta.url));
    const result = await build({ entryPoints: [entry], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent', metafile: true });
    assert.equal(result.errors.length, 0);
    assert.ok(!Object.keys(result.metafile.inputs).some((p) => p.startsWith('node:')), 'no node: imports');
    assert.ok(!Object.keys(result.metafile.inputs).some((p) => p.includes('vault.js')), 'the Vault is not pulled in');
  });
}
