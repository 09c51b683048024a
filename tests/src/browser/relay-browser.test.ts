import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Vault } from '@kith/core';
import { bundleForBrowser, launchChromium, pageWithScript, serveStatic, type ChromiumProfile, type StaticSite } from '@kith/indexeddb/testing';
import { openRelayRemote } from '@kith/relay';
import { startTestRelay, type TestRelay } from '@kith/relay-server/testing';
import { openSqliteStore } from '@kith/sqlite';
import { inPage, openPage } from './pages.js';

// A web app on origin A (allowed by the relay) and the same app on origin B
// (not allowed), both served from 127.0.0.1 on their own ports, in Debian's
// Chromium; a Node device on SQLite on the other side of the relay.
let site: StaticSite;
let foreign: StaticSite;
let relay: TestRelay;
let chromium: ChromiumProfile;
let dir: string;

before(async () => {
  const script = await bundleForBrowser(fileURLToPath(new URL('./relay-page.js', import.meta.url)));
  site = await serveStatic(pageWithScript(script));
  foreign = await serveStatic(pageWithScript(script));
  relay = await startTestRelay({ allowOrigins: [site.origin] });
  chromium = await launchChromium();
  dir = mkdtempSync(join(tmpdir(), 'kith-browser-relay-'));
});
after(async () => {
  await chromium?.dispose();
  await relay?.stop();
  await Promise.all([site?.close(), foreign?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const HOUR = 3_600_000;

test(
  'a page on an allowed origin syncs a vault with a Node device through the relay; a Node write reaches its subscription by push',
  { timeout: 300_000 },
  async () => {
    const url = `${relay.relay.url}/journal`;
    const laptopRemote = openRelayRemote(url);
    const { vault: laptop, recoveryCode } = await Vault.create({
      store: await openSqliteStore(join(dir, 'laptop.db')),
      remote: laptopRemote,
      remoteUrl: url,
      deviceName: 'laptop',
    });
    try {
      for (let i = 0; i < 20; i++) await laptop.put('notes', `n${String(i).padStart(2, '0')}`, { title: `note ${i}` });
      await laptop.sync();
      const { page } = await openPage(chromium, site.origin);
      // Polling and the auto-sync interval are an hour: within the test, only push can bring a change.
      const listed = await inPage<number>(
        page,
        `const remote = web.openRelayRemote(arg.url, { pollMs: ${HOUR} });
       const vault = await web.Vault.restore({ store: await web.openIndexedDbStore('journal'), remote, remoteUrl: arg.url, recoveryCode: arg.recoveryCode, deviceName: 'page' });
       await vault.sync();
       globalThis.remote = remote;
       globalThis.vault = vault;
       globalThis.seen = [];
       vault.subscribe('notes', { limit: 100 }, (docs) => { globalThis.seen = docs; });
       globalThis.auto = vault.startAutoSync({ intervalMs: ${HOUR} });
       await vault.put('notes', 'from-page', { title: 'written in the page' });
       await vault.sync();
       return (await vault.list('notes', { limit: 100 })).records.length;`,
        { url, recoveryCode },
      );
      assert.equal(listed, 21);
      await laptop.sync();
      assert.deepEqual(await laptop.get('notes', 'from-page'), { id: 'from-page', title: 'written in the page' });

      await page.waitForFunction(() => (globalThis as unknown as { remote: { pushLive: boolean } }).remote.pushLive, undefined, { timeout: 120_000 });
      await laptop.put('notes', 'from-node', { title: 'pushed to the page' });
      await laptop.sync();
      await page.waitForFunction(() => (globalThis as unknown as { seen: { id: string }[] }).seen.some((d) => d.id === 'from-node'), undefined, {
        timeout: 120_000,
      });
      const got = await inPage<unknown>(
        page,
        `await globalThis.auto.stop(); const d = await globalThis.vault.get('notes', 'from-node'); await globalThis.vault.close(); return d;`,
        null,
      );
      assert.deepEqual(got, { id: 'from-node', title: 'pushed to the page' });
      await page.close();
    } finally {
      await laptop.close();
    }
  },
);

test('a page on another origin is refused: fetch fails by CORS, the vault does not open, the watch socket is refused', { timeout: 300_000 }, async () => {
  const url = `${relay.relay.url}/refused`;
  const { vault: laptop, recoveryCode } = await Vault.create({
    store: await openSqliteStore(join(dir, 'refused.db')),
    remote: openRelayRemote(url),
    remoteUrl: url,
    deviceName: 'laptop',
  });
  await laptop.close();
  const { page, console: logs } = await openPage(chromium, foreign.origin);
  const out = await inPage<{ health: string; restore: string; socket: string }>(
    page,
    `let health;
     try { await fetch(arg.base + '/health'); health = 'read'; } catch (e) { health = e.name; }
     let restore;
     try {
       await web.Vault.restore({ store: await web.openIndexedDbStore('refused'), remote: web.openRelayRemote(arg.url, { retry: { maxAttempts: 1 } }), remoteUrl: arg.url, recoveryCode: arg.recoveryCode, deviceName: 'page' });
       restore = 'opened';
     } catch (e) { restore = e.code ?? e.name; }
     const socket = await new Promise((resolve) => {
       const ws = new WebSocket(arg.url.replace(/^http/, 'ws').replace('/refused', '/v1/vaults/refused/watch'), ['kith.v1']);
       ws.onopen = () => { ws.close(); resolve('open'); };
       ws.onclose = (e) => resolve('closed ' + e.code);
     });
     return { health, restore, socket };`,
    { base: relay.relay.url, url, recoveryCode },
  );
  // The relay answered /health, but without access-control-allow-origin the browser keeps it from the page.
  assert.equal(out.health, 'TypeError');
  assert.equal(out.restore, 'KITH_REMOTE_UNAVAILABLE');
  assert.equal(out.socket, 'closed 1006');
  const logged = logs.join('\n');
  assert.match(logged, /has been blocked by CORS policy: No 'Access-Control-Allow-Origin' header/);
  // What the relay answered the upgrade: 403 (its origin check), not 401 (a missing token).
  assert.match(logged, /WebSocket connection to .* failed: Error during WebSocket handshake: Unexpected response code: 403/);
  await page.close();
});
