import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kithJsonAsync } from 'kith/testing';
import { HOUR, startCliBrowserFixture, type CliBrowserFixture } from './cli-fixture.js';
import { inPage, openPage } from './pages.js';

// Attachments between the real `kith` binary and a page in Chromium through
// the relay: a 20 MB photo each way, compared by SHA-256.
let f: CliBrowserFixture;
before(async () => {
  f = await startCliBrowserFixture();
});
after(() => f?.close());

const SIZE = 20 * 1024 * 1024;
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Page code: the hex SHA-256 of `bytes` by WebCrypto. */
const HEX_SHA256 = `async function hexSha256(bytes) {
  return [...new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))].map((b) => b.toString(16).padStart(2, '0')).join('');
}`;

test(
  'a 20 MB blob put in the page downloads byte-identical on the CLI, and a 20 MB file put on the CLI reads byte-identical in the page',
  { timeout: 900_000 },
  async () => {
    const { home, url, recoveryCode } = await f.cliVault('photos');
    const { page } = await openPage(f.chromium, f.site.origin);

    // Page → CLI: random bytes (getRandomValues fills at most 64 KiB a call), put, referenced by a record, synced.
    const up = await inPage<{ ref: string; size: number; sha: string }>(
      page,
      `${HEX_SHA256}
     const bytes = new Uint8Array(arg.size);
     for (let at = 0; at < bytes.length; at += 65536) crypto.getRandomValues(bytes.subarray(at, at + 65536));
     const vault = await web.Vault.restore({ store: await web.openIndexedDbStore('photos'), remote: web.openRelayRemote(arg.url, { pollMs: ${HOUR} }), remoteUrl: arg.url, recoveryCode: arg.recoveryCode, deviceName: 'page' });
     globalThis.vault = vault;
     const put = await vault.blobs.put(bytes, { name: 'from-page.jpg', type: 'image/jpeg' });
     await vault.put('photos', 'from-page', { photo: put.ref });
     await vault.sync();
     return { ref: put.ref, size: put.size, sha: await hexSha256(bytes) };`,
      { url, recoveryCode, size: SIZE },
    );
    assert.equal(up.size, SIZE);
    await kithJsonAsync(home, ['pull']);
    const record = await kithJsonAsync<{ photo: string }>(home, ['get', 'photos', 'from-page']);
    assert.equal(record.photo, up.ref);
    const downloaded = join(f.dir, 'from-page.jpg');
    const got = await kithJsonAsync<{ size: number }>(home, ['blob', 'get', record.photo, '-o', downloaded]);
    assert.equal(got.size, SIZE);
    assert.equal(sha256(readFileSync(downloaded)), up.sha, 'the CLI downloaded the bytes the page put');

    // CLI → page: a file put on the CLI, referenced by a record, read in the page through the blob stream.
    const file = join(f.dir, 'from-cli.jpg');
    const bytes = randomBytes(SIZE);
    writeFileSync(file, bytes);
    const put = await kithJsonAsync<{ ref: string; size: number }>(home, ['blob', 'put', file, '--type', 'image/jpeg']);
    assert.equal(put.size, SIZE);
    await kithJsonAsync(home, ['put', 'photos', 'from-cli', JSON.stringify({ photo: put.ref }), '--sync']);
    const down = await inPage<{ size: number; sha: string }>(
      page,
      `${HEX_SHA256}
     const vault = globalThis.vault;
     await vault.sync();
     const { photo } = await vault.get('photos', 'from-cli');
     const reader = vault.blobs.get(photo).getReader();
     const pieces = [];
     let size = 0;
     for (;;) {
       const { done, value } = await reader.read();
       if (done) break;
       pieces.push(value);
       size += value.length;
     }
     const all = new Uint8Array(size);
     let at = 0;
     for (const p of pieces) { all.set(p, at); at += p.length; }
     await vault.close();
     return { size, sha: await hexSha256(all) };`,
      null,
    );
    assert.deepEqual(down, { size: SIZE, sha: sha256(bytes) }, 'the page read the bytes the CLI put');
    await page.close();
  },
);
