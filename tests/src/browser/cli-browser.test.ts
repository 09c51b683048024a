import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { kithJsonAsync } from 'kith/testing';
import { HOUR, startCliBrowserFixture, WAIT, type CliBrowserFixture } from './cli-fixture.js';
import { inPage, openPage } from './pages.js';

// A CLI device (the real `kith` binary on SQLite) and a browser device (a
// page on IndexedDB in Debian's Chromium) of one vault, through a relay
// that allows the page's origin.
let f: CliBrowserFixture;
before(async () => {
  f = await startCliBrowserFixture();
});
after(() => f?.close());

type Doc = { id: string; [k: string]: unknown };

/** Every record of `collection` in the page's `globalThis.vault`, page by page. */
const LIST_ALL = `async function listAll(vault, collection) {
  const all = [];
  let after;
  do {
    const page = await vault.list(collection, { limit: 200, ...(after ? { after } : {}) });
    all.push(...page.records);
    after = page.next;
  } while (after);
  return all;
}`;

test(
  'CLI ↔ page through the relay: 500 CLI records reach the page, a page write reaches the CLI, a CLI write is pushed to a subscription, a reload lists everything offline, offline edits sync on reconnect',
  { timeout: 900_000 },
  async () => {
    const { home, url, recoveryCode } = await f.cliVault('journal');
    const lines = Array.from({ length: 500 }, (_, i) => JSON.stringify({ id: `n${String(i).padStart(3, '0')}`, title: `note ${i}`, kind: 'bulk' }));
    await kithJsonAsync(home, ['import', 'notes', '-'], lines.join('\n'));
    await kithJsonAsync(home, ['push']);

    const { page } = await openPage(f.chromium, f.site.origin);
    // Polling and the auto-sync interval are an hour: within the test, only push brings the CLI's live write.
    const first = await inPage<{ count: number }>(
      page,
      `${LIST_ALL}
       const remote = web.openRelayRemote(arg.url, { pollMs: ${HOUR} });
       const vault = await web.Vault.restore({ store: await web.openIndexedDbStore('journal'), remote, remoteUrl: arg.url, recoveryCode: arg.recoveryCode, deviceName: 'page' });
       await vault.sync();
       globalThis.remote = remote;
       globalThis.vault = vault;
       globalThis.live = [];
       vault.subscribe('notes', { where: { kind: 'live' } }, (docs) => { globalThis.live = docs; });
       globalThis.auto = vault.startAutoSync({ intervalMs: ${HOUR} });
       await vault.put('notes', 'from-page', { title: 'written in the page', kind: 'page' });
       await vault.sync();
       return { count: (await listAll(vault, 'notes')).length };`,
      { url, recoveryCode },
    );
    assert.equal(first.count, 501);

    await kithJsonAsync(home, ['pull']);
    assert.deepEqual(await kithJsonAsync<Doc>(home, ['get', 'notes', 'from-page']), { id: 'from-page', title: 'written in the page', kind: 'page' });

    await page.waitForFunction(() => (globalThis as unknown as { remote: { pushLive: boolean } }).remote.pushLive, undefined, WAIT);
    await kithJsonAsync(home, ['put', 'notes', 'from-cli', JSON.stringify({ title: 'pushed to the page', kind: 'live' }), '--sync']);
    await page.waitForFunction(() => (globalThis as unknown as { live: Doc[] }).live.some((d) => d.id === 'from-cli'), undefined, WAIT);
    await inPage(page, `await globalThis.auto.stop(); await globalThis.vault.close();`, null);

    // After a reload, with the browser offline and a remote that never opens, the page lists everything from IndexedDB.
    await page.reload();
    await page.waitForFunction(() => 'kithWeb' in globalThis);
    await f.chromium.context.setOffline(true);
    const offline = await inPage<{ count: number; live: unknown }>(
      page,
      `${LIST_ALL}
       const vault = await web.Vault.open({ store: await web.openIndexedDbStore('journal'), remote: () => new Promise(() => {}) });
       const count = (await listAll(vault, 'notes')).length;
       const live = await vault.get('notes', 'from-cli');
       await vault.close();
       return { count, live };`,
      null,
    );
    assert.deepEqual(offline, { count: 502, live: { id: 'from-cli', title: 'pushed to the page', kind: 'live' } });

    // Offline edits: written locally while auto-sync fails; once the browser is online again, auto-sync
    // (its backoff ends within a minute) pushes them without the app asking.
    const queued = await inPage<{ pending: number }>(
      page,
      `const vault = await web.Vault.open({ store: await web.openIndexedDbStore('journal'), remote: web.openRelayRemote(arg.url, { pollMs: ${HOUR}, retry: { maxAttempts: 1 } }) });
       globalThis.vault = vault;
       globalThis.errors = [];
       globalThis.synced = 0;
       vault.on('error', (e) => { globalThis.errors.push(e.error.code ?? e.error.name); });
       vault.on('synced', () => { globalThis.synced++; });
       await vault.put('notes', 'offline-1', { title: 'written offline', kind: 'offline' });
       await vault.put('notes', 'offline-2', { title: 'also offline', kind: 'offline' });
       globalThis.auto = vault.startAutoSync({ intervalMs: 2000 });
       return { pending: (await vault.status()).pending };`,
      { url },
    );
    assert.ok(queued.pending > 0, 'the offline edits wait to be pushed');
    await page.waitForFunction(() => (globalThis as unknown as { errors: string[] }).errors.length > 0, undefined, WAIT);
    const failed = await page.evaluate(() => (globalThis as unknown as { errors: string[]; synced: number }).errors);
    assert.equal(failed[0], 'KITH_REMOTE_UNAVAILABLE');
    assert.equal(await page.evaluate(() => (globalThis as unknown as { synced: number }).synced), 0);
    await f.chromium.context.setOffline(false);
    await page.waitForFunction(() => (globalThis as unknown as { synced: number }).synced > 0, undefined, WAIT);
    const pendingAfter = await inPage<number>(
      page,
      `await globalThis.auto.stop(); const { pending } = await globalThis.vault.status(); await globalThis.vault.close(); return pending;`,
      null,
    );
    assert.equal(pendingAfter, 0);
    await kithJsonAsync(home, ['pull']);
    const offlineDocs = await kithJsonAsync<Doc[]>(home, ['ls', 'notes', '--where', 'kind=offline']);
    assert.deepEqual(offlineDocs.map((d) => d.id).sort(), ['offline-1', 'offline-2']);
    assert.equal((await kithJsonAsync<Doc[]>(home, ['ls', 'notes', '--limit', '1000'])).length, 504);
    await page.close();
  },
);

test('revoking the browser device from the CLI makes the page`s next sync fail with KITH_REVOKED', { timeout: 600_000 }, async () => {
  const { home, url, recoveryCode } = await f.cliVault('revoked');
  await kithJsonAsync(home, ['put', 'notes', 'a', JSON.stringify({ title: 'before' }), '--sync']);
  const { page } = await openPage(f.chromium, f.site.origin);
  const deviceId = await inPage<string>(
    page,
    `const vault = await web.Vault.restore({ store: await web.openIndexedDbStore('revoked'), remote: web.openRelayRemote(arg.url, { pollMs: ${HOUR} }), remoteUrl: arg.url, recoveryCode: arg.recoveryCode, deviceName: 'page' });
     await vault.sync();
     globalThis.vault = vault;
     return vault.deviceId;`,
    { url, recoveryCode },
  );
  await kithJsonAsync(home, ['devices', 'revoke', deviceId]);
  // The relay refuses a removed device's key, so the page learns it from the error (twice: it stays removed), which is what a page shows.
  const after = await inPage<string[]>(
    page,
    `const codes = [];
     for (let i = 0; i < 2; i++) {
       try { await globalThis.vault.sync(); codes.push('synced'); } catch (e) { codes.push(e.code ?? e.name); }
     }
     await globalThis.vault.close();
     return codes;`,
    null,
  );
  assert.deepEqual(after, ['KITH_REVOKED', 'KITH_REVOKED']);
  const devices = await kithJsonAsync<{ deviceId: string; revoked: boolean }[]>(home, ['devices']);
  assert.equal(devices.find((d) => d.deviceId === deviceId)?.revoked, true);
  await page.close();
});
