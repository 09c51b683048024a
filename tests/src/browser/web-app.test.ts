import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { vaultLocator } from '@kith/core';
import { launchChromium, type ChromiumProfile } from '@kith/indexeddb/testing';
import { kithJsonAsync, onTerminal, runKith, serveRelay, type ServedRelay } from 'kith/testing';

// The web app (apps/web, built by `npm run build`) end to end: served by a
// real `kith relay serve` process at its own origin, driven in Chromium by
// its data-testid attributes, beside a real `kith` CLI device. With
// KITH_SCREENSHOTS=1 (`npm run screenshots`) it also saves the main screens
// to docs/screenshots/. The tests run in order on one page and one vault,
// each starting where the one before left off.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SHOTS = process.env['KITH_SCREENSHOTS'] ? join(ROOT, 'docs/screenshots') : undefined;
const WAIT = { timeout: 120_000 };

let dir: string;
let relay: ServedRelay;
let chromium: ChromiumProfile;
let page: Page;
/** The CLI device's home, once it restored the vault the page created. */
let laptop: string;
let vaultUrl: string;
let recoveryCode: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kith-web-app-'));
  laptop = join(dir, 'laptop');
  relay = await serveRelay(join(dir, 'relay-home'), ['--data', join(dir, 'relay')]);
  assert.ok(relay.app?.endsWith(join('apps', 'web', 'dist')), `the relay serves the built app by default (got ${relay.app}); run \`npm run build\``);
  chromium = await launchChromium();
  page = await chromium.context.newPage();
  await page.setViewportSize({ width: 1000, height: 700 });
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
});
after(async () => {
  await chromium?.dispose();
  await relay?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const byId = (id: string) => page.getByTestId(id);
async function shot(name: string): Promise<void> {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
type Doc = { id: string; title?: string; photos?: { ref: string; name: string; size: number; thumb: string }[] };

/** Waits until the page pushed everything and synced after `since` (ms). */
async function synced(since: number): Promise<void> {
  await page.waitForFunction(
    (t) => {
      const el = document.querySelector('[data-testid="sync-status"]');
      const last = Date.parse(el?.querySelector('[data-testid="sync-last"]')?.getAttribute('data-time') ?? '');
      return el?.querySelector('[data-testid="sync-pending"]')?.getAttribute('data-pending') === '0' && last >= t;
    },
    since,
    WAIT,
  );
}

/**
 * Opens the app on another origin of the same relay (localhost: a browser profile of its own, its storage
 * cleared first if asked) at the restore form; `fill` restores from there, and the journal must then list
 * the page's first entry.
 */
async function restoreOnLocalhost(fill: (other: Page) => Promise<void>, o: { clearStorage?: boolean } = {}): Promise<void> {
  const origin = relay.url.replace('127.0.0.1', 'localhost');
  const other = await chromium.context.newPage();
  try {
    if (o.clearStorage) await (await chromium.context.newCDPSession(other)).send('Storage.clearDataForOrigin', { origin, storageTypes: 'all' });
    await other.goto(`${origin}/`);
    await other.getByTestId('screen-start').waitFor(WAIT);
    await other.getByTestId('start-restore').click();
    await fill(other);
    await other.getByTestId('screen-journal').waitFor(WAIT);
    await other.locator('[data-testid="entry-card"]', { hasText: 'First light' }).waitFor(WAIT);
  } finally {
    await other.close();
  }
}

async function writeEntry(title: string, text: string, tags: string): Promise<void> {
  await byId('new-entry').click();
  await byId('editor-title').fill(title);
  await byId('editor-tags').fill(tags);
  await byId('editor-text').fill(text);
  await byId('editor-save').click();
  await byId('entry-view').waitFor(WAIT);
}

test(
  'create a vault in the page (the recovery code shown once), write an entry; a CLI device restores the vault and reads it',
  { timeout: 600_000 },
  async () => {
    await page.goto(`${relay.url}/`);
    await byId('screen-start').waitFor(WAIT);
    await shot('start');
    await byId('create-vault').click();
    await byId('recovery-code').waitFor(WAIT);
    recoveryCode = (await byId('recovery-code').textContent())!.trim();
    vaultUrl = (await byId('vault-url').textContent())!.trim();
    assert.equal(vaultUrl, `${relay.url}/${vaultLocator(recoveryCode)}`, "the vault lives on the page's relay under its code's locator");
    await shot('recovery-code');
    assert.equal(await byId('saved-it').isDisabled(), true, 'continuing needs "I saved it"');
    await byId('saved-check').check();
    await byId('saved-it').click();
    await byId('screen-journal').waitFor(WAIT);

    const wrote = Date.now();
    await writeEntry('First light', 'Coffee on the balcony before anyone woke up.', 'home, morning');
    await byId('entry-back').click();
    await synced(wrote);

    await kithJsonAsync(laptop, ['restore', '--remote', vaultUrl, '--recovery-code', recoveryCode, '--name', 'laptop']);
    await kithJsonAsync(laptop, ['pull']);
    const docs = await kithJsonAsync<(Doc & { text?: string; tags?: string[] })[]>(laptop, ['ls', 'entries']);
    const first = docs.find((d) => d.title === 'First light');
    assert.ok(first, `the CLI sees the page's entry: ${JSON.stringify(docs)}`);
    assert.equal(first.text, 'Coffee on the balcony before anyone woke up.');
    assert.deepEqual(first.tags, ['home', 'morning']);
  },
);

test("a record written on the CLI shows in the page's journal (pushed by the relay), and search and the tag filter find it", { timeout: 600_000 }, async () => {
  const fields = { title: 'Trip to the coast', text: 'Windy, cold, wonderful.', date: '2026-11-28', tags: ['travel'] };
  await kithJsonAsync(laptop, ['put', 'entries', 'from-laptop', JSON.stringify(fields), '--sync']);
  const card = page.locator('[data-testid="entry-card"][data-entry-id="from-laptop"]');
  await card.waitFor(WAIT);
  assert.match((await card.textContent()) ?? '', /Trip to the coast/);

  await byId('search').fill('windy');
  await page.waitForFunction(() => document.querySelector('[data-testid="entry-list"]')?.getAttribute('data-count') === '1', undefined, WAIT);
  await byId('search').fill('');
  await byId('tag-filter').selectOption('home');
  await page.waitForFunction(() => document.querySelector('[data-testid="entry-list"]')?.getAttribute('data-count') === '1', undefined, WAIT);
  assert.equal(await byId('entry-title').textContent(), 'First light');
  await byId('tag-filter').selectOption('');
});

test(
  'a photo uploaded in the page (thumbnail made there; another dropped on the editor) downloads byte-identical on the CLI; the page opens its full size',
  { timeout: 600_000 },
  async () => {
    // A real PNG (so the page can make a thumbnail) made large by bytes after its end, which decoders ignore.
    const photo = Buffer.concat([readFileSync(join(ROOT, 'apps/web/public/icon-512.png')), randomBytes(3 * 1024 * 1024)]);
    await byId('new-entry').click();
    await byId('editor-title').fill('The lighthouse');
    await byId('editor-text').fill('Photo from the walk.');
    await byId('photo-input').setInputFiles({ name: 'lighthouse.png', mimeType: 'image/png', buffer: photo });
    await byId('editor-photo').waitFor(WAIT);
    assert.match((await byId('editor-photo').locator('img').getAttribute('src')) ?? '', /^data:image\/jpeg;base64,/, 'a JPEG thumbnail made in the page');
    // A second photo dropped on the editor (the drop zone takes files as the picker does).
    const dropped = readFileSync(join(ROOT, 'apps/web/public/icon-192.png'));
    const transfer = await page.evaluateHandle((b64) => {
      const t = new DataTransfer();
      t.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], 'dropped.png', { type: 'image/png' }));
      return t;
    }, dropped.toString('base64'));
    await byId('photo-drop').dispatchEvent('drop', { dataTransfer: transfer });
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="editor-photo"]').length === 2, undefined, WAIT);
    // Its corners are transparent; a JPEG thumbnail has none, so they must come out white, not black.
    const corner = await page.evaluate(async () => {
      const img = document.querySelector<HTMLImageElement>('[data-testid="editor-photo"] img[alt="dropped.png"]')!;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.naturalWidth;
      c.height = img.naturalHeight;
      const g = c.getContext('2d')!;
      g.drawImage(img, 0, 0);
      return [...g.getImageData(1, 1, 1, 1).data.slice(0, 3)];
    });
    assert.ok(
      corner.every((v) => v > 230),
      `the transparent corner of the dropped PNG is white in its thumbnail: rgb ${corner.join(',')}`,
    );
    await shot('editor');
    const saved = Date.now();
    await byId('editor-save').click();
    await byId('entry-view').waitFor(WAIT);
    await page.locator('[data-testid="photo"]', { has: page.locator('img[alt="lighthouse.png"]') }).click();
    await page.locator('[data-testid="photo-full"][data-state="loaded"]').waitFor(WAIT);
    await shot('photo');
    await byId('photo-close').click();
    await byId('entry-back').click();
    await synced(saved);

    await kithJsonAsync(laptop, ['pull']);
    const entry = (await kithJsonAsync<Doc[]>(laptop, ['ls', 'entries'])).find((d) => d.title === 'The lighthouse');
    const byName = new Map((entry?.photos ?? []).map((p) => [p.name, p]));
    assert.deepEqual([...byName.keys()].sort(), ['dropped.png', 'lighthouse.png'], `the entry references both photos: ${JSON.stringify(entry)}`);
    assert.equal(byName.get('dropped.png')!.size, dropped.length);
    const ref = byName.get('lighthouse.png')!.ref;
    assert.equal(byName.get('lighthouse.png')!.size, photo.length);
    const out = join(dir, 'lighthouse.png');
    await kithJsonAsync(laptop, ['blob', 'get', ref, '-o', out]);
    assert.equal(sha256(readFileSync(out)), sha256(photo), 'the CLI downloaded the bytes the page uploaded');
  },
);

test(
  'concurrent edits of one title (page and CLI) show as a conflict on the entry in the page; picking the CLI side resolves it everywhere',
  { timeout: 600_000 },
  async () => {
    // The CLI edits before it has seen the page's edit: the two writes are concurrent.
    await kithJsonAsync(laptop, ['patch', 'entries', 'from-laptop', JSON.stringify({ title: 'Coast trip' })]);
    await page.locator('[data-testid="entry-card"][data-entry-id="from-laptop"]').click();
    await byId('entry-edit').click();
    await byId('editor-title').fill('Trip to the sea');
    const saved = Date.now();
    await byId('editor-save').click();
    await byId('entry-view').waitFor(WAIT);
    await synced(saved);
    await kithJsonAsync(laptop, ['sync']);
    const conflict = page.locator('[data-testid="conflict"][data-field="title"]');
    await conflict.waitFor(WAIT);
    await shot('conflict');
    const laptopId = (await kithJsonAsync<{ deviceId: string; current: boolean }[]>(laptop, ['devices'])).find((d) => d.current)!.deviceId;
    const resolved = Date.now();
    await conflict.locator(`[data-testid="conflict-take"][data-device="${laptopId}"]`).click();
    await page.locator('[data-testid="entry-view-title"]', { hasText: 'Coast trip' }).waitFor(WAIT);
    await byId('conflicts').waitFor({ state: 'detached', ...WAIT });
    await synced(resolved);
    await kithJsonAsync(laptop, ['pull']);
    assert.deepEqual(await kithJsonAsync(laptop, ['conflicts']), []);
    assert.equal((await kithJsonAsync<Doc>(laptop, ['get', 'entries', 'from-laptop'])).title, 'Coast trip');
    await byId('entry-back').click();
  },
);

test('the devices page lists this browser and the CLI; a rename shows', { timeout: 600_000 }, async () => {
  await byId('nav-devices').click();
  const me = page.locator('[data-testid="device"][data-current="true"]');
  await me.waitFor(WAIT);
  await page.locator('[data-testid="device"]', { hasText: 'laptop' }).waitFor(WAIT);
  await me.getByTestId('device-rename').click();
  await me.getByTestId('device-rename-input').fill('My browser');
  await me.getByTestId('device-rename-save').click();
  await page.locator('[data-testid="device"][data-current="true"] [data-testid="device-name"]', { hasText: 'My browser' }).waitFor(WAIT);
  await shot('devices');
  await byId('nav-journal').click();
});

test('a second tab opens the same device (one tab syncs); an edit made in it shows in the first', { timeout: 600_000 }, async () => {
  const second = await chromium.context.newPage();
  try {
    await second.goto(`${relay.url}/`);
    await second.getByTestId('screen-journal').waitFor(WAIT);
    await second.waitForFunction(() => document.querySelectorAll('[data-testid="entry-card"]').length === 3, undefined, WAIT);
    await second.getByTestId('nav-devices').click();
    const roles = [await second.getByTestId('tab-role').textContent()];
    await byId('nav-devices').click();
    roles.push(await byId('tab-role').textContent());
    assert.deepEqual(roles.sort(), ['another tab syncs', 'this tab syncs'], 'exactly one tab syncs');
    await byId('nav-journal').click();
    await second.getByTestId('nav-journal').click();
    await second.locator('[data-testid="entry-card"]', { hasText: 'First light' }).click();
    await second.getByTestId('entry-edit').click();
    await second.getByTestId('editor-tags').fill('home, morning, tabs');
    await second.getByTestId('editor-save').click();
    await second.getByTestId('entry-view').waitFor(WAIT);
    await page.locator('[data-testid="entry-card"]', { hasText: '#tabs' }).waitFor(WAIT);
  } finally {
    await second.close();
  }
});

test(
  'the app is installable, and reloads offline from its service worker and still lists every entry; the worker never cached the relay API',
  { timeout: 600_000 },
  async () => {
    await page.waitForFunction(async () => (await navigator.serviceWorker.ready) !== undefined && navigator.serviceWorker.controller !== null, undefined, WAIT);
    // Installable: Chromium finds the manifest valid and has nothing against installing the app.
    const cdp = await chromium.context.newCDPSession(page);
    assert.deepEqual((await cdp.send('Page.getAppManifest')).errors, []);
    assert.deepEqual((await cdp.send('Page.getInstallabilityErrors')).installabilityErrors, []);
    await cdp.detach();
    const count = await page.locator('[data-testid="entry-card"]').count();
    assert.equal(count, 3);
    await shot('journal');
    await chromium.context.setOffline(true);
    try {
      await page.reload();
      await byId('screen-journal').waitFor(WAIT);
      await page.waitForFunction((n) => document.querySelectorAll('[data-testid="entry-card"]').length === n, count, WAIT);
      await page.waitForFunction(() => document.querySelector('[data-testid="sync-status"]')?.getAttribute('data-state') === 'offline', undefined, WAIT);
      await shot('offline');
      const cached = await page.evaluate(async () => {
        const urls: string[] = [];
        for (const name of await caches.keys()) for (const req of await (await caches.open(name)).keys()) urls.push(new URL(req.url).pathname);
        return urls;
      });
      assert.ok(cached.includes('/index.html'), `the shell is cached: ${cached.join(' ')}`);
      assert.deepEqual(
        cached.filter((p) => p.startsWith('/v1') || p === '/health'),
        [],
      );
    } finally {
      await chromium.context.setOffline(false);
    }
  },
);

test('revoking the browser from the CLI makes the page say this device was removed', { timeout: 600_000 }, async () => {
  await page.reload();
  await byId('screen-journal').waitFor(WAIT);
  await byId('nav-devices').click();
  const me = page.locator('[data-testid="device"][data-current="true"]');
  await me.waitFor(WAIT);
  const deviceId = (await me.getAttribute('data-device-id'))!;
  await kithJsonAsync(laptop, ['devices', 'revoke', deviceId]);
  // The relay tells the page's syncing tab of the registry change; its sync then fails with KITH_REVOKED.
  await byId('screen-revoked').waitFor(WAIT);
  await shot('removed');
  // It stays removed after a reload (no network needed to know).
  await page.reload();
  await byId('screen-revoked').waitFor(WAIT);
});

test(
  'the removed browser erases its copy and joins again with a pairing code from `kith pair`, the same six digits shown on both',
  { timeout: 600_000 },
  async () => {
    await byId('erase-device').click();
    await byId('screen-start').waitFor(WAIT);
    const pair = onTerminal(laptop, ['pair', '--timeout', '300']);
    await pair.waitFor(/works once\):\s+\S+\s/);
    const code = /works once\):\s+(\S+)\s/.exec(pair.screen())![1]!;
    await byId('start-join').click();
    await byId('join-url').fill(vaultUrl);
    await byId('join-code').fill(code);
    await byId('join-vault').click();
    await pair.waitFor(/Does the other device show .*\? \[y\/N\]/);
    const cliSas = /Does the other device show (\d{3} ?\d{3})/.exec(pair.screen())![1]!;
    await byId('join-sas').waitFor(WAIT);
    await shot('join');
    const pageSas = (await byId('join-sas').textContent())!;
    assert.equal(pageSas.replace(/\D/g, ''), cliSas.replace(/\D/g, ''), 'the page and the CLI show the same SAS');
    pair.type('y\r');
    assert.equal(await pair.exited, 0, pair.screen());
    await byId('screen-journal').waitFor(WAIT);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="entry-card"]').length === 3, undefined, WAIT);
  },
);

test('the page adds a device: it shows a pairing code, `kith join` enters it, both show the same SAS, and the page accepts', { timeout: 600_000 }, async () => {
  await byId('nav-devices').click();
  await byId('pair-start').click();
  await byId('pair-code').waitFor(WAIT);
  const code = (await byId('pair-code').textContent())!.trim();
  assert.equal((await byId('pair-url').textContent())!.trim(), vaultUrl);
  const tablet = join(dir, 'tablet');
  const joining = onTerminal(tablet, ['join', code, '--remote', vaultUrl, '--name', 'tablet', '--timeout', '300']);
  await joining.waitFor(/Check that the other device shows: (\d{3} ?\d{3})/);
  const cliSas = /Check that the other device shows: (\d{3} ?\d{3})/.exec(joining.screen())![1]!;
  await byId('pair-confirm').waitFor(WAIT);
  assert.match((await byId('pair-confirm').textContent()) ?? '', /tablet/);
  assert.equal((await byId('pair-sas').textContent())!.replace(/\D/g, ''), cliSas.replace(/\D/g, ''), 'the page and the CLI show the same SAS');
  await shot('pair');
  await byId('pair-accept').click();
  assert.equal(await joining.exited, 0, joining.screen());
  await byId('pair-done').waitFor(WAIT);
  await page.locator('[data-testid="device"]', { hasText: 'tablet' }).waitFor(WAIT);
  await kithJsonAsync(tablet, ['pull']);
  assert.ok(
    (await kithJsonAsync<Doc[]>(tablet, ['ls', 'entries'])).some((d) => d.title === 'First light'),
    'the tablet reads the journal',
  );
  await byId('nav-journal').click();
});

test(
  'another origin of the same relay (localhost: a browser profile of its own) restores with the vault URL and the password set on the CLI; a wrong password first changes nothing',
  { timeout: 600_000 },
  async () => {
    const password = 'correct horse battery staple';
    const set = runKith(laptop, ['password', 'set', '--json'], { env: { KITH_PASSWORD: password } });
    assert.equal(set.status, 0, set.stderr);
    await restoreOnLocalhost(async (other) => {
      await other.getByTestId('restore-with-password').check();
      await other.getByTestId('restore-url').fill(vaultUrl.replace('127.0.0.1', 'localhost'));
      await other.getByTestId('restore-password').fill('not the password at all');
      await other.getByTestId('restore-vault').click();
      await other.getByTestId('start-error').waitFor(WAIT);
      await other.getByTestId('restore-password').fill(password);
      await other.getByTestId('restore-vault').click();
    });
  },
);

test(
  "another origin of the same relay (localhost, its storage cleared) restores with the recovery code alone: the vault is found under the code's locator",
  { timeout: 600_000 },
  async () => {
    await restoreOnLocalhost(
      async (other) => {
        await other.getByTestId('restore-with-code').check();
        await other.getByTestId('restore-code').fill(recoveryCode);
        assert.equal(await other.getByTestId('restore-url').inputValue(), '', 'no vault URL is given');
        await other.getByTestId('restore-vault').click();
      },
      { clearStorage: true },
    );
  },
);

test(
  'npm start -- --serve ends with a link that opens the demo vault in the web app without typing (restored from the #restore= fragment)',
  { timeout: 600_000 },
  async () => {
    const demo = spawn(process.execPath, [join(ROOT, 'packages/cli/dist/demo.js'), '--serve'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    demo.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    demo.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((resolve) => demo.once('exit', resolve));
    try {
      const link = await new Promise<string>((resolve, reject) => {
        const check = (): void => {
          const m = /^\s*(?:\x1b\[1m)?(http:\/\/127\.0\.0\.1:\d+\/#restore=[A-Za-z0-9_-]+)/m.exec(out);
          if (m && /keeps running/.test(out)) resolve(m[1]!);
        };
        demo.stdout.on('data', check);
        void exited.then((code) => reject(new Error(`the demo exited (${code}) before printing its link:\n${out}`)));
      });
      const tab = await chromium.context.newPage();
      try {
        await tab.goto(link);
        await tab.getByTestId('screen-journal').waitFor(WAIT);
        await tab.locator('[data-testid="entry-card"]', { hasText: 'The demo ran' }).waitFor(WAIT);
        assert.equal(new URL(tab.url()).hash, '', 'the page drops the fragment once it used it');
      } finally {
        await tab.close();
      }
    } finally {
      demo.kill('SIGINT');
      assert.equal(await exited, 0, out);
    }
  },
);
