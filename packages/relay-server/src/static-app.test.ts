import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { ErrorCode, KithError } from '@kith/core';
import { startRelay } from './index.js';
import { startTestRelay, type TestRelay } from './testing/test-vaults.js';

// The relay serving a built web app from a folder (`staticDir`, `kith relay
// serve --app`): the app at `/`, its routes falling back to index.html, the
// API and /health untouched, nothing outside the folder reachable.
const SECRET = 'the relay operator’s secret';
let dir: string;
let tr: TestRelay;
let bare: TestRelay;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kith-static-'));
  const app = join(dir, 'app');
  mkdirSync(join(app, 'assets'), { recursive: true });
  writeFileSync(join(app, 'index.html'), '<!doctype html><title>app</title>');
  writeFileSync(join(app, 'assets', 'index-AbC123.js'), 'console.log(1)');
  writeFileSync(join(app, 'sw.js'), 'self.addEventListener("fetch", () => {})');
  writeFileSync(join(app, 'manifest.webmanifest'), '{}');
  writeFileSync(join(app, 'icon.svg'), '<svg/>');
  writeFileSync(join(app, '.env'), SECRET);
  writeFileSync(join(dir, 'secret.txt'), SECRET);
  symlinkSync(join(dir, 'secret.txt'), join(app, 'link.txt'));
  symlinkSync(dir, join(app, 'up'));
  tr = await startTestRelay({ staticDir: app });
  bare = await startTestRelay();
});
after(async () => {
  await tr?.stop();
  await bare?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A request with the path sent exactly as written (fetch would normalize `..` away). */
function raw(base: string, path: string, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('the app is served at / with its content types; index.html and sw.js are revalidated, hashed assets cached for good', async () => {
  const base = tr.relay.url;
  const index = await fetch(`${base}/`);
  assert.equal(index.status, 200);
  assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(index.headers.get('cache-control'), 'no-cache');
  assert.equal(await index.text(), '<!doctype html><title>app</title>');

  const asset = await fetch(`${base}/assets/index-AbC123.js`);
  assert.equal(asset.headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  assert.equal(await asset.text(), 'console.log(1)');

  const sw = await fetch(`${base}/sw.js`);
  assert.equal(sw.headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.equal(sw.headers.get('cache-control'), 'no-cache');
  assert.equal((await fetch(`${base}/manifest.webmanifest`)).headers.get('content-type'), 'application/manifest+json; charset=utf-8');
  assert.equal((await fetch(`${base}/icon.svg`)).headers.get('content-type'), 'image/svg+xml');

  const head = await raw(base, '/', 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], String('<!doctype html><title>app</title>'.length));
  assert.equal(head.body, '');
});

test("a path without an extension gets index.html (the app's own routes, a vault URL opened in a browser); a missing file is a 404", async () => {
  const base = tr.relay.url;
  for (const path of ['/journal', '/entries/42', '/family', '/?restore=x']) {
    const res = await fetch(`${base}${path}`);
    assert.equal(res.status, 200, path);
    assert.equal(await res.text(), '<!doctype html><title>app</title>', path);
  }
  for (const path of ['/missing.js', '/assets/index-old.js']) {
    const res = await fetch(`${base}${path}`);
    assert.equal(res.status, 404, path);
    assert.equal(((await res.json()) as { code: string }).code, ErrorCode.NotFound, path);
  }
});

test('the API and /health are the relay’s: JSON answers, never the app', async () => {
  const base = tr.relay.url;
  assert.deepEqual(await (await fetch(`${base}/health`)).json(), { ok: true });
  for (const path of ['/v1', '/v1/', '/v1/nothing', '/v1/vaults/family/nothing', '/%76%31/nothing']) {
    const res = await raw(base, path);
    assert.equal(res.status, 404, path);
    assert.equal((JSON.parse(res.body) as { code: string }).code, ErrorCode.NotFound, path);
  }
  // An object route keeps its auth: no token, no object (and no HTML).
  const obj = await fetch(`${base}/v1/vaults/family/objects/header`);
  assert.notEqual(obj.status, 200);
  assert.match(obj.headers.get('content-type') ?? '', /json/);
  // Other methods are the relay's too.
  const post = await fetch(`${base}/`, { method: 'POST', body: 'x' });
  assert.equal(post.status, 404);
});

test('nothing outside the folder is served: .., encoded .., symbolic links out, dotfiles', async () => {
  const base = tr.relay.url;
  for (const path of [
    '/../secret.txt',
    '/assets/../../secret.txt',
    '/%2e%2e/secret.txt',
    '/%2E%2E%2Fsecret.txt',
    '/assets/..%2f..%2fsecret.txt',
    '/..%5csecret.txt',
    '/link.txt',
    '/up/secret.txt',
    '/.env',
    '/assets/%00.js',
    '/%E0%A4%A.js',
  ]) {
    const res = await raw(base, path);
    assert.ok(!res.body.includes(SECRET), `${path} served the secret`);
    assert.notEqual(res.status, 200, path);
  }
});

test('property: no request path reaches a file outside the folder', { timeout: 120_000 }, async () => {
  const piece = fc.constantFrom('..', '.', '%2e%2e', '%2E.', '%2f', '%5c', 'secret.txt', 'up', 'link.txt', 'assets', '.env', '', '%00', 'index.html');
  await fc.assert(
    fc.asyncProperty(fc.array(piece, { minLength: 1, maxLength: 6 }), fc.constantFrom('/', '%2f', '\\'), async (parts, joint) => {
      const res = await raw(tr.relay.url, `/${parts.join(joint)}`);
      assert.ok(!res.body.includes(SECRET), `/${parts.join(joint)} served the secret`);
    }),
    { numRuns: 150 },
  );
});

test('without staticDir the relay serves no app; a folder without index.html is refused at start', async () => {
  const res = await fetch(`${bare.relay.url}/`);
  assert.equal(res.status, 404);
  assert.equal(((await res.json()) as { code: string }).code, ErrorCode.NotFound);
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  await assert.rejects(
    startRelay({ dataDir: join(dir, 'data'), staticDir: empty }),
    (e: unknown) => e instanceof KithError && e.code === ErrorCode.Usage && /no web app/.test(e.message),
  );
});
