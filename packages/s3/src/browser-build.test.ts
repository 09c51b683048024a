import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import fc from 'fast-check';
import { md5Hex } from './md5.js';
import { md5Hex as md5HexBrowser } from './md5-browser.js';

// A web app bundles @kith/s3 (and the AWS SDK) for the browser: no Node
// built-in may remain, and the package's `browser` field swaps in the MD5
// that browsers can run.
test('the S3 remote bundles for the browser with no Node built-ins', async () => {
  const entry = fileURLToPath(new URL('./index.js', import.meta.url));
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    logLevel: 'silent',
    metafile: true,
    minify: true,
  });
  assert.equal(result.errors.length, 0);
  const inputs = Object.keys(result.metafile.inputs);
  assert.deepEqual(
    inputs.filter((p) => p.startsWith('node:')),
    [],
  );
  assert.ok(inputs.some((p) => p.endsWith('md5-browser.js')) && !inputs.some((p) => p.endsWith('/md5.js')), 'the browser MD5 replaces the Node one');
  const bytes = result.outputFiles[0]!.contents;
  // The size README.md quotes (with the SDK); a much larger bundle means the SDK's Node half came along.
  assert.ok(gzipSync(bytes).length < 200_000, `gzipped bundle is ${gzipSync(bytes).length} bytes`);
});

test('the browser MD5 agrees with Node\u2019s on any bytes', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => md5HexBrowser(b) === md5Hex(b)));
  assert.equal(md5HexBrowser(new TextEncoder().encode('abc')), '900150983cd24fb0d6963f7d28e17f72');
});
