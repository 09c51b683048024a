/**
 * The browser blob cache in real headless Chromium: the behaviour the Node
 * cache's test checks (put, get, touch, list with sizes, delete, bad keys,
 * concurrent and repeated writes) on both backends — OPFS, and IndexedDB
 * with `navigator.storage.getDirectory` hidden as in a browser without OPFS —
 * each surviving a reload; a full quota; and a Vault in a page reading a
 * blob after a reload from the cache alone, its remote unreachable, and
 * trimming the cache to its `cacheBytes` through `list` and `delete`.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { bundleForBrowser, launchChromium, overrideQuota, pageWithScript, serveStatic, type ChromiumProfile, type StaticSite } from '../testing/index.js';

interface Browser {
  readonly profile: ChromiumProfile;
  readonly site: StaticSite;
}

let bundled: Promise<string> | undefined;
const script = (): Promise<string> => (bundled ??= bundleForBrowser(fileURLToPath(new URL('../testing/cache-page.js', import.meta.url))));

let shared: Promise<Browser> | undefined;
/** One browser for the file: launching Chromium is the expensive part. */
const browser = (): Promise<Browser> =>
  (shared ??= (async () => ({ site: await serveStatic(pageWithScript(await script())), profile: await launchChromium() }))());
/** Sites besides the shared one; closed after the browser, whose open connections would keep a server's close waiting. */
const sites: StaticSite[] = [];
after(async () => {
  if (shared === undefined) return;
  const b = await shared;
  await b.profile.dispose();
  for (const site of [b.site, ...sites]) await site.close();
});

/** Hides OPFS before any script of the page runs, as in a browser that has none. */
const HIDE_OPFS = 'delete StorageManager.prototype.getDirectory;';

async function openPage(hideOpfs: boolean, site?: StaticSite): Promise<Page> {
  const b = await browser();
  const origin = (site ?? b.site).origin;
  const page = await b.profile.context.newPage();
  page.on('pageerror', (e) => process.stderr.write(`[page error] ${e.message}\n`));
  if (hideOpfs) await page.addInitScript(HIDE_OPFS);
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => 'kithBlobCache' in globalThis);
  return page;
}

/** A reload drops everything the page held in memory; init scripts run again. */
async function reload(page: Page): Promise<void> {
  await page.reload();
  await page.waitForFunction(() => 'kithBlobCache' in globalThis);
}

/** Runs `body`, an async function's body with `k` the page's module, in the page; returns its JSON result. */
function inPage<T>(page: Page, body: string, arg: unknown = null): Promise<T> {
  return page.evaluate<T>(`(async (k, arg) => { ${body} })(globalThis.kithBlobCache, ${JSON.stringify(arg)})`);
}

/** In-page helpers prepended to scenario bodies. */
const HELPERS = `
  const bytes = (...xs) => Uint8Array.from(xs);
  const same = (a, b) => a !== null && a.length === b.length && a.every((x, i) => x === b[i]);
  const codeOf = async (p) => { try { await p; return 'ok'; } catch (e) { return e.code ?? e.name; } };
  const sorted = async (cache) => (await cache.list()).map((e) => [e.key, e.size]).sort((x, y) => (x[0] < y[0] ? -1 : 1));
`;

const ID = 'ab'.repeat(32);
const IDS = ['cd'.repeat(32), 'cd' + 'ef'.repeat(31), 'cd' + '01'.repeat(31)];
const BIG = 3 * 1024 * 1024;

for (const backend of ['opfs', 'indexeddb'] as const) {
  describe(`browser blob cache (${backend})`, () => {
    test('put, get, touch, list with sizes, delete; bad keys and empty objects refused, changing nothing; survives a reload', async () => {
      const page = await openPage(backend === 'indexeddb');
      try {
        const first = await inPage<Record<string, unknown>>(
          page,
          `${HELPERS}
           const [ID, IDS, BIG] = arg;
           const cache = await k.openBrowserBlobCache('behaviour-' + arg[3]);
           const out = { backend: cache.backend };
           out.missing = await cache.get('c/' + ID);
           await cache.put('c/' + ID, bytes(1, 2, 3));
           await cache.put('m/' + ID, bytes(4));
           out.got = Array.from(await cache.get('c/' + ID));
           out.listed = await sorted(cache);
           // touch: whether an object is cached, marking it used now without reading it.
           const before = (await cache.list()).find((e) => e.key === 'c/' + ID).usedAt;
           while (Date.now() <= before) await new Promise((r) => setTimeout(r, 5));
           out.touched = await cache.touch('c/' + ID);
           out.usedLater = (await cache.list()).find((e) => e.key === 'c/' + ID).usedAt > before;
           out.touchMissing = await cache.touch('c/' + 'ee'.repeat(32));
           await cache.delete('c/' + ID);
           out.afterDelete = await cache.get('c/' + ID);
           out.deleteMissing = await codeOf(cache.delete('c/' + ID));
           // Refused, and nothing changes.
           out.refused = [
             await codeOf(cache.put('c/../../etc', bytes(1))),
             await codeOf(cache.put('x/' + ID, bytes(1))),
             await codeOf(cache.get('c/' + ID.toUpperCase())),
             await codeOf(cache.put('c/' + ID, new Uint8Array(0))),
           ];
           out.afterRefused = await sorted(cache);
           // Several writers at once (views into one big buffer: each keeps only its own bytes); a rewrite replaces the entry whole.
           const big = new Uint8Array(BIG).map((_, i) => i % 251);
           await Promise.all(IDS.map((x, i) => cache.put('c/' + x, big.subarray(i))));
           out.bigSame = [];
           for (const [i, x] of IDS.entries()) out.bigSame.push(same(await cache.get('c/' + x), big.subarray(i)));
           await cache.put('c/' + IDS[0], bytes(7));
           out.rewritten = Array.from(await cache.get('c/' + IDS[0]));
           // The same object written twice at once (two fetches of one chunk): one of them, whole.
           const a = new Uint8Array(100000).fill(1), b = new Uint8Array(90000).fill(2);
           await Promise.all([cache.put('c/' + IDS[1], a), cache.put('c/' + IDS[1], b)]);
           const raced = await cache.get('c/' + IDS[1]);
           out.racedWhole = same(raced, a) || same(raced, b);
           out.racedSize = raced.length;
           out.final = await sorted(cache);
           cache.close();
           return out;`,
          [ID, IDS, BIG, backend],
        );
        assert.equal(first['backend'], backend);
        assert.equal(first['missing'], null);
        assert.deepEqual(first['got'], [1, 2, 3]);
        assert.deepEqual(first['listed'], [
          [`c/${ID}`, 3],
          [`m/${ID}`, 1],
        ]);
        assert.equal(first['touched'], true);
        assert.equal(first['usedLater'], true, 'touch marks the object used now');
        assert.equal(first['touchMissing'], false);
        assert.equal(first['afterDelete'], null);
        assert.equal(first['deleteMissing'], 'ok', 'deleting what is not cached is not an error');
        assert.deepEqual(first['refused'], ['KITH_BAD_INPUT', 'KITH_BAD_INPUT', 'KITH_BAD_INPUT', 'KITH_BAD_INPUT']);
        assert.deepEqual(first['afterRefused'], [[`m/${ID}`, 1]]);
        assert.deepEqual(first['bigSame'], [true, true, true]);
        assert.deepEqual(first['rewritten'], [7]);
        assert.equal(first['racedWhole'], true);
        const expected = [
          [`c/${IDS[0]}`, 1],
          [`c/${IDS[1]}`, first['racedSize']],
          [`c/${IDS[2]}`, BIG - 2],
          [`m/${ID}`, 1],
        ].sort((x, y) => (String(x[0]) < String(y[0]) ? -1 : 1));
        assert.deepEqual(first['final'], expected, 'list: every object once, with its own size');

        // A reload: nothing in memory is kept, the objects are on disk.
        await reload(page);
        const second = await inPage<Record<string, unknown>>(
          page,
          `${HELPERS}
           const [ID, IDS, BIG] = arg;
           const cache = await k.openBrowserBlobCache('behaviour-' + arg[3]);
           const big = new Uint8Array(BIG).map((_, i) => i % 251);
           const out = { backend: cache.backend, listed: await sorted(cache) };
           out.got = [Array.from(await cache.get('m/' + ID)), Array.from(await cache.get('c/' + IDS[0])), same(await cache.get('c/' + IDS[2]), big.subarray(2))];
           // Another name is another cache.
           const other = await k.openBrowserBlobCache('behaviour/other');
           out.other = await other.list();
           other.close();
           if (cache.backend === 'opfs') {
             const dir = await (await (await navigator.storage.getDirectory()).getDirectoryHandle('kith-blobs')).getDirectoryHandle('behaviour-opfs');
             out.file = (await (await (await dir.getDirectoryHandle('m')).getFileHandle(ID)).getFile()).size;
           }
           for (const [key] of out.listed) await cache.delete(key);
           out.emptied = await cache.list();
           cache.close();
           return out;`,
          [ID, IDS, BIG, backend],
        );
        assert.equal(second['backend'], backend);
        assert.deepEqual(second['listed'], first['final']);
        assert.deepEqual(second['got'], [[4], [7], true]);
        assert.deepEqual(second['other'], []);
        if (backend === 'opfs') assert.equal(second['file'], 1, 'the object is a file in the origin private file system');
        assert.deepEqual(second['emptied'], []);
      } finally {
        await page.close();
      }
    });
  });
}

test('a cache whose backend changed (OPFS gone) lists only the objects it can read', async () => {
  const withOpfs = await openPage(false);
  const withoutOpfs = await openPage(true);
  try {
    const body = `${HELPERS}
      const cache = await k.openBrowserBlobCache('switch');
      const out = { backend: cache.backend };
      if (arg[1]) { await cache.put('c/' + arg[0], bytes(5, 6)); await cache.touch('c/' + arg[0]); }
      out.listed = await sorted(cache);
      const got = await cache.get('c/' + arg[0]);
      out.got = got && Array.from(got);
      cache.close();
      return out;`;
    assert.deepEqual(await inPage(withOpfs, body, [ID, true]), { backend: 'opfs', listed: [[`c/${ID}`, 2]], got: [5, 6] });
    assert.deepEqual(await inPage(withoutOpfs, body, [ID, false]), { backend: 'indexeddb', listed: [], got: null });
  } finally {
    await withOpfs.close();
    await withoutOpfs.close();
  }
});

describe('browser blob cache in a full quota', () => {
  for (const backend of ['opfs', 'indexeddb'] as const) {
    test(`${backend}: a put past the quota is KITH_STORAGE_FULL and keeps nothing of it`, async () => {
      // An origin of its own: a second quota override on an origin whose first was lifted did not take in Chromium.
      const site = await serveStatic(pageWithScript(await script()));
      sites.push(site);
      const page = await openPage(backend === 'indexeddb', site);
      const quota = await overrideQuota(page, site.origin, 2 * 1024 * 1024);
      try {
        const out = await inPage<{
          backend: string;
          code: string;
          failed: string;
          written: string[];
          listed: [string, number][];
          got: unknown;
          files?: string[];
        }>(
          page,
          `${HELPERS}
           const cache = await k.openBrowserBlobCache('quota-' + arg);
           const written = [];
           let code = 'never full', failed = '';
           for (let i = 0; i < 24 && code === 'never full'; i++) {
             // Fresh random bytes each time: Chromium's IndexedDB did not fill its quota with the same regular or repeated value.
             const half = new Uint8Array(512 * 1024);
             for (let at = 0; at < half.length; at += 65536) crypto.getRandomValues(half.subarray(at, at + 65536));
             const key = 'c/' + i.toString(16).padStart(2, '0').repeat(32);
             const c = await codeOf(cache.put(key, half));
             if (c === 'ok') written.push(key);
             else { code = c; failed = key; }
           }
           const out = { backend: cache.backend, code, failed, written, listed: await sorted(cache), got: failed && (await cache.get(failed)) };
           if (cache.backend === 'opfs') {
             const dir = await (await (await navigator.storage.getDirectory()).getDirectoryHandle('kith-blobs')).getDirectoryHandle('quota-opfs');
             out.files = [];
             for await (const name of (await dir.getDirectoryHandle('c')).keys()) out.files.push('c/' + name);
             out.files.sort();
           }
           for (const [key] of out.listed) await cache.delete(key);
           cache.close();
           return out;`,
          backend,
        );
        assert.equal(out.backend, backend);
        assert.equal(out.code, 'KITH_STORAGE_FULL');
        assert.equal(out.got, null, 'nothing of the failed put is cached');
        if (backend === 'opfs') assert.deepEqual(out.files, out.written, 'no file left of the failed put');
        assert.deepEqual(
          out.listed,
          out.written.map((k) => [k, 512 * 1024]),
          'the objects written before are all there',
        );
      } finally {
        await quota.lift();
        await page.close();
      }
    });
  }
});

describe('a Vault in a page with the browser blob cache', () => {
  for (const backend of ['opfs', 'indexeddb'] as const) {
    test(`${backend}: a blob put, then read after a reload from the cache alone, the remote unreachable`, async () => {
      const page = await openPage(backend === 'indexeddb');
      try {
        const name = `vault-${backend}`;
        const put = await inPage<{ ref: string; digest: string; chunks: number; cached: number }>(
          page,
          `const name = arg;
           const blobCache = await k.openBrowserBlobCache(name);
           const { vault } = await k.Vault.create({ store: await k.openIndexedDbStore(name), remote: k.openMemoryRemote(new Map()), remoteUrl: 'memory:', deviceName: 'page', blobCache });
           // Several chunks of bytes that do not compress.
           const data = new Uint8Array(3 * 1024 * 1024);
           for (let at = 0; at < data.length; at += 65536) crypto.getRandomValues(data.subarray(at, at + 65536));
           const { ref, chunks } = await vault.blobs.put(data, { name: 'photo.jpg', type: 'image/jpeg' });
           const cached = (await blobCache.list()).length;
           await vault.close(); // closes the blob cache too
           const digest = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', data))).join(',');
           return { ref, digest, chunks, cached };`,
          name,
        );
        assert.ok(put.chunks > 1, `several chunks (${put.chunks})`);
        assert.equal(put.cached, put.chunks + 1, 'every chunk and the manifest cached as they were uploaded');

        await reload(page);
        const read = await inPage<{ digest: string; opened: number; backend: string; uncached: string }>(
          page,
          `const [name, ref] = arg;
           let opened = 0;
           // The remote is gone: the memory remote did not survive the reload, and opening one fails.
           const remote = async () => { opened++; throw Object.assign(new Error('offline'), { code: 'KITH_REMOTE_UNAVAILABLE' }); };
           const blobCache = await k.openBrowserBlobCache(name);
           const vault = await k.Vault.open({ store: await k.openIndexedDbStore(name), remote, blobCache });
           const bytes = await vault.blobs.bytes(ref);
           const digest = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))).join(',');
           await vault.close();
           // Without the cache the same read needs the remote.
           const empty = await k.openBrowserBlobCache(name + '-empty');
           const bare = await k.Vault.open({ store: await k.openIndexedDbStore(name), remote, blobCache: empty });
           let uncached = 'read';
           try { await bare.blobs.bytes(ref); } catch (e) { uncached = e.message; }
           await bare.close();
           empty.close();
           blobCache.close();
           return { digest, opened, backend: blobCache.backend, uncached };`,
          [name, put.ref],
        );
        assert.equal(read.backend, backend);
        assert.equal(read.digest, put.digest, 'the blob read back is byte-identical');
        assert.equal(read.opened, 1, 'only the read without the cache tried to open the remote');
        assert.match(read.uncached, /offline/);
      } finally {
        await page.close();
      }
    });

    test(`${backend}: the vault's cacheBytes trims the cache least recently used first`, async () => {
      const page = await openPage(backend === 'indexeddb');
      try {
        const out = await inPage<{ evicted: number; bChunks: number; cached: Record<string, number>; aBytes: number; aSize: number; readAfter: boolean }>(
          page,
          `const name = 'trim-' + arg;
           const blobCache = await k.openBrowserBlobCache(name);
           const { vault } = await k.Vault.create({ store: await k.openIndexedDbStore(name), remote: k.openMemoryRemote(new Map()), remoteUrl: 'memory:', deviceName: 'page', blobCache });
           const random = (n) => { const d = new Uint8Array(n); for (let at = 0; at < n; at += 65536) crypto.getRandomValues(d.subarray(at, at + 65536)); return d; };
           const a = random(1536 * 1024), b = random(1536 * 1024);
           const refA = (await vault.blobs.put(a, { name: 'a' })).ref;
           const refB = (await vault.blobs.put(b, { name: 'b' })).ref;
           // A read after B's upload makes A the most recently used.
           for (const start = Date.now(); Date.now() <= start;) await new Promise((r) => setTimeout(r, 5));
           await vault.blobs.bytes(refA);
           const sizes = new Map((await blobCache.list()).map((e) => [e.key, e.size]));
           const chunksOf = async (ref) => (await vault.blobs.manifest(ref)).chunks.map(([id]) => 'c/' + id);
           const aBytes = (await chunksOf(refA)).reduce((n, key) => n + sizes.get(key), 0);
           const { evicted } = await vault.blobs.prefetch({ policy: 'none', cacheBytes: aBytes });
           const cached = Object.fromEntries((await vault.blobs.list()).map((e) => [e.name, e.cached]));
           const readAfter = (await vault.blobs.bytes(refA)).length === a.length;
           const bChunks = (await chunksOf(refB)).length;
           for (const e of await blobCache.list()) await blobCache.delete(e.key);
           await vault.close();
           blobCache.close();
           return { evicted, bChunks, cached, aBytes, aSize: a.length, readAfter };`,
          backend,
        );
        assert.equal(out.evicted, out.bChunks, 'every chunk of the older blob went');
        assert.deepEqual(out.cached, { a: out.aBytes, b: 0 }, 'the blob read last stays whole');
        assert.ok(out.readAfter);
      } finally {
        await page.close();
      }
    });
  }
});
