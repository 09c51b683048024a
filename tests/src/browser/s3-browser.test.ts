import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Vault } from '@kith/core';
import { bundleForBrowser, launchChromium, pageWithScript, serveStatic, type ChromiumProfile, type StaticSite } from '@kith/indexeddb/testing';
import { openS3Remote } from '@kith/s3';
import { startS3rver, type CorsConfiguration, type S3rverProcess } from '@kith/s3/testing';
import { openSqliteStore } from '@kith/sqlite';
import { inPage, openPage } from './pages.js';

// The S3 remote bundled for the browser, in a page served on one 127.0.0.1
// port, against s3rver on another: a bucket with the CORS rule that
// packages/s3/README.md documents works, a bucket without one is refused.
let s3: S3rverProcess;
let site: StaticSite;
let chromium: ChromiumProfile;
let dir: string;

/** The rule of the README ("From a web page"), as written there. */
function readmeRule(): CorsConfiguration {
  const readme = readFileSync(fileURLToPath(new URL('../../../packages/s3/README.md', import.meta.url)), 'utf8');
  const section = readme.slice(readme.indexOf('## From a web page'));
  const json = /```json\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(json, 'the README shows the CORS rule as JSON');
  return JSON.parse(json) as CorsConfiguration;
}

before(async () => {
  s3 = await startS3rver();
  site = await serveStatic(pageWithScript(await bundleForBrowser(fileURLToPath(new URL('./s3-page.js', import.meta.url)))));
  chromium = await launchChromium();
  dir = mkdtempSync(join(tmpdir(), 'kith-browser-s3-'));
});
after(async () => {
  await chromium?.dispose();
  await site?.close();
  await s3?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// s3rver's default credentials; a real app gets short-lived ones from its backend.
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

test('a page creates a vault in a bucket with the README CORS rule and syncs with a Node device through it', { timeout: 300_000 }, async () => {
  const bucket = await s3.bucket();
  const rule = readmeRule();
  await s3.cors(bucket, { CORSRules: rule.CORSRules!.map((r) => ({ ...r, AllowedOrigins: [site.origin] })) });
  const url = s3.url(bucket, 'journal');
  const { page } = await openPage(chromium, site.origin);
  const recoveryCode = await inPage<string>(
    page,
    `const remote = await web.openS3Remote(arg.url, { client: { credentials: arg.credentials } });
     const { vault, recoveryCode } = await web.Vault.create({ store: await web.openIndexedDbStore('s3'), remote, remoteUrl: arg.url, deviceName: 'page' });
     for (let i = 0; i < 10; i++) await vault.put('notes', 'p' + i, { title: 'from the page ' + i });
     await vault.sync();
     globalThis.vault = vault;
     return recoveryCode;`,
    { url, credentials: CREDENTIALS },
  );
  const laptop = await Vault.restore({
    store: await openSqliteStore(join(dir, 'laptop.db')),
    remote: await openS3Remote(url),
    remoteUrl: url,
    recoveryCode,
    deviceName: 'laptop',
  });
  try {
    await laptop.sync();
    assert.equal((await laptop.list('notes', { limit: 100 })).records.length, 10);
    await laptop.put('notes', 'from-node', { title: 'written in Node' });
    await laptop.delete('notes', 'p0');
    await laptop.sync();
  } finally {
    await laptop.close();
  }
  const seen = await inPage<{ ids: string[]; node: unknown }>(
    page,
    `await globalThis.vault.sync();
     const ids = (await globalThis.vault.list('notes', { limit: 100 })).records.map((r) => r.id);
     const node = await globalThis.vault.get('notes', 'from-node');
     await globalThis.vault.close();
     return { ids, node };`,
    null,
  );
  assert.deepEqual(seen.node, { id: 'from-node', title: 'written in Node' });
  assert.deepEqual(seen.ids.sort(), ['from-node', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7', 'p8', 'p9']);
  await page.close();
});

test('without the CORS rule the browser refuses the page every request: the vault is not created', { timeout: 300_000 }, async () => {
  const bucket = await s3.bucket();
  const url = s3.url(bucket, 'journal');
  const { page, console: logs } = await openPage(chromium, site.origin);
  const out = await inPage<string>(
    page,
    `try {
       const remote = await web.openS3Remote(arg.url, { client: { credentials: arg.credentials }, retry: { maxAttempts: 1 } });
       await web.Vault.create({ store: await web.openIndexedDbStore('s3-refused'), remote, remoteUrl: arg.url, deviceName: 'page' });
       return 'created';
     } catch (e) { return e.code ?? e.name; }`,
    { url, credentials: CREDENTIALS },
  );
  assert.equal(out, 'KITH_REMOTE_UNAVAILABLE');
  assert.match(logs.join('\n'), /has been blocked by CORS policy/);
  // Nothing reached the bucket.
  const node = await openS3Remote(url);
  assert.deepEqual(await node.list(''), []);
  await node.close();
  await page.close();
});
