// The hooks in real Chromium: hooks.test.page.tsx bundled with React and
// rendered on two IndexedDB devices sharing an in-page remote. The test
// acts through page.evaluate and waits (no timing assertions) for what the
// hooks render.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { bundleForBrowser, launchChromium, pageWithScript, serveStatic, type ChromiumProfile, type StaticSite } from '@kith/indexeddb/testing';

const WAIT = 120_000;
let chromium: ChromiumProfile;
let site: StaticSite;
let page: Page;

before(async () => {
  const entry = fileURLToPath(new URL('./hooks.test.page.js', import.meta.url));
  // React reads process.env.NODE_ENV, which a page does not have.
  const script = await bundleForBrowser(entry, { define: { 'process.env.NODE_ENV': '"development"' } });
  site = await serveStatic(pageWithScript(script));
  chromium = await launchChromium();
  page = await chromium.context.newPage();
  await page.goto(`${site.origin}/`);
  await page.evaluate('kithReady');
});

after(async () => {
  await chromium?.dispose();
  await site?.close();
});

/** Runs an async function body in the page with `kith` (the devices and helpers) in scope. */
const act = (body: string) => page.evaluate(`(async (kith) => { ${body} })(globalThis.kith)`);

/** Waits until `expr` (with `shown(testid)`: what an element shows, parsed) holds in the page; a timeout says what was shown. */
async function until(expr: string): Promise<void> {
  try {
    await page.waitForFunction(expr, undefined, { timeout: WAIT });
  } catch (e) {
    const shown = await page.evaluate(`['query','record','status','conflicts','devices'].map((id) => id + ' = ' + JSON.stringify(shown(id))).join('\\n')`);
    throw new Error(`never held: ${expr}\n${String(shown)}`, { cause: e });
  }
}

test('useQuery and useRecord show records, follow local writes and syncs from another device; useSyncStatus follows', { timeout: 4 * WAIT }, async () => {
  await until(`JSON.stringify(shown('query')) === '[]'`);
  await act(`await kith.notes.put('n1', { title: 'Milk' })`);
  await until(`JSON.stringify(shown('query')) === '["Milk"]'`);
  await until(`shown('record')?.id === 'n1' && shown('record').title === 'Milk' && shown('record').done === false`);
  await until(`shown('status').pending === 1 && shown('status').lastSync === null`);
  await act(`await kith.otherNotes.put('n2', { title: 'Eggs' }); await kith.b.sync(); await kith.a.sync();`);
  await until(`JSON.stringify(shown('query')) === '["Eggs","Milk"]'`);
  await until(`shown('status').pending === 0 && shown('status').lastSync !== null && shown('status').caughtUp && !shown('status').syncing`);
  await act(`await kith.notes.patch('n1', { done: true })`);
  await until(`shown('record').done === true && shown('status').pending === 1`);
  // The README example renders the open notes of the same vault.
  await until(`document.querySelector('#readme li')?.textContent === 'Eggs'`);
});

test('a write the schema refuses throws KITH_SCHEMA in the page and no hook shows anything of it', { timeout: 2 * WAIT }, async () => {
  const code = await act(`try { await kith.notes.put('bad', { title: '' }); return 'written'; } catch (e) { return e.code; }`);
  assert.equal(code, 'KITH_SCHEMA');
  await act(`await kith.notes.put('n3', { title: 'Tea' })`);
  await until(`JSON.stringify(shown('query')) === '["Eggs","Milk","Tea"]'`);
});

test('useConflicts shows a conflict after concurrent writes and clears after resolve; useDevices lists both devices', { timeout: 4 * WAIT }, async () => {
  await act(`await kith.a.sync(); await kith.b.sync();`);
  await act(
    `await kith.notes.patch('n2', { title: 'Brown eggs' }); await kith.otherNotes.patch('n2', { title: 'White eggs' }); await kith.b.sync(); await kith.a.sync();`,
  );
  await until(`JSON.stringify(shown('conflicts')) === '["n2.title"]' && shown('status').conflicts === 1`);
  await until(`JSON.stringify(shown('devices')) === '["other","page"]'`);
  await act(`await kith.a.resolve('notes', 'n2', 'title', { keep: true })`);
  await until(`JSON.stringify(shown('conflicts')) === '[]' && shown('status').conflicts === 0`);
});

test('useSyncStatus shows offline while the browser is offline', { timeout: 2 * WAIT }, async () => {
  await until(`shown('status').offline === false`);
  await chromium.context.setOffline(true);
  await until(`shown('status').offline === true`);
  await chromium.context.setOffline(false);
  await until(`shown('status').offline === false`);
});

test(
  'useSyncStatus shows an auto-sync that cannot reach the remote as offline with its error, and clears both once a sync succeeds',
  { timeout: 2 * WAIT },
  async () => {
    await act(`kith.remoteDown(true); kith.auto = kith.a.startAutoSync({ intervalMs: 200 }); await kith.notes.put('n4', { title: 'Jam' });`);
    await until(`shown('status').offline === true && /switched off/.test(shown('status').syncError) && shown('status').pending > 0`);
    await act(`kith.remoteDown(false)`);
    await until(`shown('status').offline === false && shown('status').syncError === null && shown('status').pending === 0`);
    await act(`await kith.auto.stop()`);
  },
);

test('unmounting the tree releases every vault listener the hooks held', { timeout: 2 * WAIT }, async () => {
  assert.ok(Number(await act(`return kith.listening()`)) > 0);
  await act(`kith.unmount()`);
  assert.equal(await act(`return kith.listening()`), 0);
});
