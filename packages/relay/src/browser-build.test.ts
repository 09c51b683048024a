import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

// A web app bundles @kith/relay for the browser: it must use the page's fetch
// and WebSocket, with no Node built-in and not the `ws` fallback (the
// package's `browser` field maps `ws` away).
test('the relay client bundles for the browser with no Node built-ins and without ws', async () => {
  const entry = fileURLToPath(new URL('./index.js', import.meta.url));
  const result = await build({ entryPoints: [entry], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent', metafile: true });
  assert.equal(result.errors.length, 0);
  const inputs = Object.keys(result.metafile.inputs);
  assert.ok(
    inputs.some((p) => p.includes('relay-remote.js')),
    'the remote is in the bundle',
  );
  assert.deepEqual(
    inputs.filter((p) => p.startsWith('node:') || /^node_modules\/ws\//.test(p)),
    [],
  );
  assert.ok(!/from\s*["'](node:|ws["'])/.test(result.outputFiles[0]!.text), 'no Node or ws imports left in the output');
});
