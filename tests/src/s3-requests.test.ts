/**
 * Request economy on S3, counted at a proxy in front of a real s3rver: an
 * idle sync costs one request per device whatever the history; a push of
 * a batch costs a constant number of PUTs; a pull costs requests in
 * proportion to what is new.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Vault } from '@kith/core';
import { openS3Remote } from '@kith/s3';
import { startFaultProxy, startS3rver } from '@kith/s3/testing';
import { openSqliteStore } from '@kith/sqlite';

test('5 devices, 10,000-change history: idle sync = 1 request per device; push = 2 PUTs; pull ∝ new segments', { timeout: 300_000 }, async () => {
  const s3 = await startS3rver();
  const proxy = await startFaultProxy(s3.endpoint);
  const dir = mkdtempSync(join(tmpdir(), 'kith-s3-req-'));
  const vaults: Vault[] = [];
  try {
    const url = s3.url(await s3.bucket(), 'vault', proxy.url);
    const open = async (i: number) => ({ store: await openSqliteStore(join(dir, `d${i}`, 'kith.db')), remote: await openS3Remote(url), remoteUrl: url });
    const { vault: a, recoveryCode } = await Vault.create({ ...(await open(0)), deviceName: 'A' });
    vaults.push(a);
    // A long history: 10,000 changes in 100 pushes (100 segments).
    for (let round = 0; round < 100; round++) {
      await a.batch((b) => {
        for (let i = 0; i < 100; i++) b.put('notes', `r${round}-${i}`, { title: `note ${round}/${i}`, n: i });
      });
      await a.push();
    }
    for (let i = 1; i < 5; i++) {
      const v = await Vault.restore({ ...(await open(i)), recoveryCode, deviceName: `D${i}` });
      vaults.push(v);
      assert.equal((await v.pull()).pulled, 10_000);
    }
    // Settle: each device rewrites its head once it has seen every registry entry (the joins).
    for (let pass = 0; pass < 3; pass++) for (const v of vaults) await v.sync();
    proxy.resetCounts();
    for (const v of vaults) assert.deepEqual(await v.sync(), { pushed: 0, pulled: 0, conflicts: 0 });
    assert.equal(proxy.counts.total, 5, `idle sync of 5 devices made ${JSON.stringify(proxy.counts.byMethod)} requests`);
    assert.deepEqual(proxy.counts.byMethod, { GET: 5 }, 'one LIST of heads/ each');

    // A batch of 5,000 writes goes up as one segment and one head, after one LIST of registry/
    // (to learn of revocations first) and one HEAD (put-if-absent, which s3rver lacks natively);
    // a second HEAD learns the new head's etag, so the next pull tells a lost or rolled-back own head without a GET.
    await a.batch((b) => {
      for (let i = 0; i < 5000; i++) b.patch('notes', `r${i % 100}-${Math.floor(i / 100)}`, { edited: i });
    });
    proxy.resetCounts();
    assert.equal((await a.push()).pushed, 5000);
    assert.deepEqual(proxy.counts.byMethod, { GET: 1, HEAD: 2, PUT: 2 });
    // The pusher's next pull: one LIST only, as push noted the etag of the head it wrote (no GET of its own head).
    proxy.resetCounts();
    assert.equal((await a.pull()).pulled, 0);
    assert.deepEqual(proxy.counts.byMethod, { GET: 1 });
    // Another device pulls it: one LIST, one GET of the head, one GET of the segment.
    proxy.resetCounts();
    assert.equal((await vaults[1]!.pull()).pulled, 5000);
    assert.deepEqual(proxy.counts.byMethod, { GET: 3 });
  } finally {
    for (const v of vaults) await v.close();
    await proxy.stop();
    await s3.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
