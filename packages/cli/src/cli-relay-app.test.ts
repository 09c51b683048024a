import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertError, runKith, serveRelay } from './testing/index.js';
import { builtWebApp } from './web-app.js';

// `kith relay serve --app DIR`: the relay serves a built web app at `/`;
// by default the workspace's built @kith/web, and `--no-app` serves none.
let home: string;
before(() => {
  home = mkdtempSync(join(tmpdir(), 'kith-cli-relay-app-'));
});
after(() => rmSync(home, { recursive: true, force: true }));

test('--app DIR serves the folder at / (and says so in --json); the API stays the relay’s', { timeout: 120_000 }, async () => {
  const app = join(home, 'site');
  mkdirSync(app);
  writeFileSync(join(app, 'index.html'), '<!doctype html><title>mine</title>');
  const relay = await serveRelay(home, ['--data', join(home, 'r1'), '--app', app]);
  try {
    assert.equal(relay.app, app);
    assert.equal(await (await fetch(`${relay.url}/`)).text(), '<!doctype html><title>mine</title>');
    assert.equal(await (await fetch(`${relay.url}/some/route`)).text(), '<!doctype html><title>mine</title>');
    assert.deepEqual(await (await fetch(`${relay.url}/health`)).json(), { ok: true });
  } finally {
    assert.equal(await relay.stop(), 0);
  }
});

test('by default the built @kith/web of the workspace when there is one; --no-app serves none ("app": null)', { timeout: 120_000 }, async () => {
  const byDefault = await serveRelay(home, ['--data', join(home, 'r2')]);
  try {
    assert.equal(byDefault.app, builtWebApp() ?? null);
    if (byDefault.app !== null) assert.match(await (await fetch(`${byDefault.url}/`)).text(), /<div id="root">/);
  } finally {
    await byDefault.stop();
  }
  const none = await serveRelay(home, ['--data', join(home, 'r3'), '--no-app']);
  try {
    assert.equal(none.app, null);
    assert.equal((await fetch(`${none.url}/`)).status, 404);
  } finally {
    await none.stop();
  }
});

test('--app naming a folder without index.html is refused with one line, nothing started', () => {
  const r = runKith(home, ['relay', 'serve', '--port', '0', '--data', join(home, 'r4'), '--app', join(home, 'nowhere')]);
  assertError(r, 2, 'KITH_USAGE');
  assert.match(r.stderr, /no web app to serve/);
});
