import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { kithJsonAsync, onTerminal } from 'kith/testing';
import { HOUR, startCliBrowserFixture, WAIT, type CliBrowserFixture } from './cli-fixture.js';
import { inPage, openPage } from './pages.js';

// Pairing between the real `kith` binary and a page in Chromium, through the
// relay: the CLI side runs on a pseudo-terminal and is answered the way a
// person would, after comparing the six digits both sides show.
let f: CliBrowserFixture;
before(async () => {
  f = await startCliBrowserFixture();
});
after(() => f?.close());

type Doc = { id: string; [k: string]: unknown };
/** Six digits, as both sides show them (possibly grouped by a space). */
const SAS = /(\d{3} ?\d{3})/;
const digits = (sas: string): string => sas.replace(/\D/g, '');

test(
  'the CLI invites (kith pair, confirming the SAS at its prompt) and the page joins with Vault.join: same SAS on both sides, the page reads the vault',
  { timeout: 600_000 },
  async () => {
    const { home, url } = await f.cliVault('paired-page');
    await kithJsonAsync(home, ['put', 'notes', 'hello', JSON.stringify({ title: 'from the laptop' }), '--sync']);
    const pair = onTerminal(home, ['pair', '--timeout', '300']);
    await pair.waitFor(/works once\):\s+\S+\s/);
    const code = /works once\):\s+(\S+)\s/.exec(pair.screen())![1]!;

    const { page } = await openPage(f.chromium, f.site.origin);
    await inPage(
      page,
      `globalThis.sas = null;
     globalThis.joined = web.Vault.join({ store: await web.openIndexedDbStore('paired-page'), remote: web.openRelayRemote(arg.url, { pollMs: ${HOUR} }), remoteUrl: arg.url, code: arg.code, deviceName: 'page', timeoutMs: 300000, onSas: (s) => { globalThis.sas = s; } });
     globalThis.joined.catch(() => undefined);`,
      { url, code },
    );
    await pair.waitFor(/Does the other device show .*\? \[y\/N\]/);
    const cliSas = new RegExp(`Does the other device show ${SAS.source}`).exec(pair.screen())![1]!;
    await page.waitForFunction(() => (globalThis as unknown as { sas: string | null }).sas !== null, undefined, WAIT);
    const pageSas = await page.evaluate(() => (globalThis as unknown as { sas: string }).sas);
    assert.match(digits(pageSas), /^\d{6}$/);
    assert.equal(digits(cliSas), digits(pageSas), 'the CLI and the page showed the same SAS');
    pair.type('y\r');
    assert.equal(await pair.exited, 0, pair.screen());
    assert.match(pair.screen(), /Added device "page"/);

    const got = await inPage<{ deviceId: string; hello: unknown }>(
      page,
      `const vault = await globalThis.joined;
     await vault.sync();
     const hello = await vault.get('notes', 'hello');
     await vault.put('notes', 'from-joined-page', { title: 'written by the paired page' });
     await vault.sync();
     const deviceId = vault.deviceId;
     await vault.close();
     return { deviceId, hello };`,
      null,
    );
    assert.deepEqual(got.hello, { id: 'hello', title: 'from the laptop' });
    await kithJsonAsync(home, ['pull']);
    assert.equal((await kithJsonAsync<Doc>(home, ['get', 'notes', 'from-joined-page']))['title'], 'written by the paired page');
    const devices = await kithJsonAsync<{ deviceId: string; name: string; revoked: boolean }[]>(home, ['devices']);
    const added = devices.find((d) => d.deviceId === got.deviceId);
    assert.equal(added?.name, 'page');
    assert.equal(added?.revoked, false);
    await page.close();
  },
);

test('the page invites (vault.devices.pair) and the CLI joins (kith join): same SAS on both sides, the CLI reads the vault', { timeout: 600_000 }, async () => {
  const { url, recoveryCode } = await f.cliVault('paired-cli');
  const { page } = await openPage(f.chromium, f.site.origin);
  // The page confirms only when the test says so, after comparing the SAS the joining CLI shows.
  await inPage(
    page,
    `const vault = await web.Vault.restore({ store: await web.openIndexedDbStore('paired-cli'), remote: web.openRelayRemote(arg.url, { pollMs: ${HOUR} }), remoteUrl: arg.url, recoveryCode: arg.recoveryCode, deviceName: 'page' });
     await vault.put('notes', 'from-page', { title: 'written in the inviting page' });
     await vault.sync();
     globalThis.vault = vault;
     globalThis.code = null;
     globalThis.offered = null;
     let answer;
     globalThis.answer = new Promise((resolve) => { answer = resolve; });
     globalThis.confirm = answer;
     globalThis.paired = vault.devices.pair({
       timeoutMs: 300000,
       onCode: (c) => { globalThis.code = c; },
       confirm: async (joiner) => { globalThis.offered = joiner; return globalThis.answer; },
     });
     globalThis.paired.catch(() => undefined);`,
    { url, recoveryCode },
  );
  await page.waitForFunction(() => (globalThis as unknown as { code: string | null }).code !== null, undefined, WAIT);
  const code = await page.evaluate(() => (globalThis as unknown as { code: string }).code);

  const tablet = join(f.dir, 'tablet');
  const joining = onTerminal(tablet, ['join', code, '--remote', url, '--name', 'tablet', '--timeout', '300']);
  await joining.waitFor(new RegExp(`Check that the other device shows: ${SAS.source}`));
  const cliSas = new RegExp(`Check that the other device shows: ${SAS.source}`).exec(joining.screen())![1]!;
  await page.waitForFunction(() => (globalThis as unknown as { offered: unknown }).offered !== null, undefined, WAIT);
  const offered = await page.evaluate(() => (globalThis as unknown as { offered: { name: string; sas: string } }).offered);
  assert.equal(offered.name, 'tablet');
  assert.equal(digits(offered.sas), digits(cliSas), 'the page and the CLI showed the same SAS');
  const added = await inPage<{ deviceId: string; name: string; sas: string }>(
    page,
    `globalThis.confirm(true);
     const added = await globalThis.paired;
     await globalThis.vault.close();
     return added;`,
    null,
  );
  assert.equal(await joining.exited, 0, joining.screen());
  assert.equal(added.name, 'tablet');
  assert.equal(digits(added.sas), digits(cliSas));

  await kithJsonAsync(tablet, ['pull']);
  assert.equal((await kithJsonAsync<Doc>(tablet, ['get', 'notes', 'from-page']))['title'], 'written in the inviting page');
  const me = (await kithJsonAsync<{ deviceId: string; current: boolean }[]>(tablet, ['devices'])).find((d) => d.current);
  assert.equal(me?.deviceId, added.deviceId);
  await page.close();
});
