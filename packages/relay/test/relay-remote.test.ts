import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { countingRemote, type CountingRemote } from '@kith/core/adapter';
import { runCheckScenarios, runRemoteConformance, runSyncScenarios } from '@kith/core/testing';
import { openRelayRemote, type RelayRemote } from '@kith/relay';
import { LIST_BODY_MAX } from '@kith/relay/protocol';
import { startRelay, type RunningRelay } from '@kith/relay-server';
import { createTestVault, relayScenarioHarness, startTestRelay, until, watchHeads, withoutVaultObjects, type TestRelay } from '@kith/relay-server/testing';

let served: TestRelay;
let relay: RunningRelay;
let db: TestRelay['db'];
let vaults = 0;
const fresh = (): string => `v${++vaults}`;

before(async () => {
  served = await startTestRelay();
  ({ relay, db } = served);
});
after(() => served.stop());

// Every conformance test runs as a registered device of a vault made for it.
runRemoteConformance('relay (embedded SQLite), as an authenticated device', async () => {
  const remote = (await createTestVault(relay.url, fresh())).remote();
  return { remote: withoutVaultObjects(remote), cleanup: () => remote.close() };
});

runSyncScenarios('relay (embedded SQLite) + SQLite store', async () => relayScenarioHarness(relay.url, db, fresh()), { remoteUrl: 'http://relay.test/main' });
runCheckScenarios('relay (embedded SQLite) + SQLite store', async () => relayScenarioHarness(relay.url, db, fresh()), { remoteUrl: 'http://relay.test/main' });

describe('relay client: the registry listing before a push', () => {
  const last = (seq: number): string => `registry/${String(seq).padStart(12, '0')}`;
  /** Lists until the answer comes without a request: the relay confirms the watch a moment after the socket opens. */
  const answeredWithoutListing = async (r: RelayRemote & CountingRemote, after: string): Promise<void> => {
    for (let i = 0; ; i++) {
      assert.ok(i < 100, 'the relay confirmed the watch');
      const before = r.stats.lists;
      assert.deepEqual(await r.list('registry/', { after }), []);
      if (r.stats.lists === before) return;
    }
  };

  test('while the push socket is open, "nothing new" is answered without a round trip until a registry change is told', async () => {
    const tv = await createTestVault(relay.url, fresh(), { devices: 2 });
    const r = tv.remote(0, { pollMs: 3_600_000 });
    let told = 0;
    r.watch('registry/', () => told++);
    await until(() => r.pushLive, 5000, 'the push socket');
    try {
      await answeredWithoutListing(r, last(2));
      const lists = r.stats.lists;
      for (let i = 0; i < 5; i++) assert.deepEqual(await r.list('registry/', { after: last(2) }), []);
      assert.equal(r.stats.lists, lists, 'answered without listing');
      assert.equal((await r.list('registry/')).length, 2, 'other questions still go to the relay');
      await tv.revoke(1); // by another client
      await until(() => told > 0, 5000, 'the notice');
      assert.deepEqual(
        (await r.list('registry/', { after: last(2) })).map((i) => i.key),
        [last(3)],
        'the notice ended it',
      );
    } finally {
      await r.close();
    }
  });

  test('without an open push socket, or after writing the registry itself, the client lists again', async () => {
    const tv = await createTestVault(relay.url, fresh(), { devices: 2 });
    const idle = tv.remote(0);
    const lists = idle.stats.lists;
    for (let i = 0; i < 3; i++) await idle.list('registry/', { after: last(2) });
    assert.equal(idle.stats.lists, lists + 3);
    await idle.close();
    // The recovery key's own client: the relay does not tell a writer of its own writes.
    const founder = countingRemote(openRelayRemote(tv.url, { pollMs: 3_600_000 }));
    founder.useDeviceKey(tv.recoveryKey());
    founder.watch('heads/', () => {});
    await until(() => founder.pushLive, 5000, 'the push socket');
    try {
      await answeredWithoutListing(founder, last(2));
      await tv.append({ kind: 'revoke', deviceId: tv.devices[1]!.deviceId, lastSeq: 0, epoch: 1 }, founder);
      assert.deepEqual(
        (await founder.list('registry/', { after: last(2) })).map((i) => i.key),
        [last(3)],
      );
    } finally {
      await founder.close();
    }
  });
});

describe('relay client: heads read with their listing', () => {
  test('a read naming the listed etag is answered from the listing, once; any other read asks the relay', async () => {
    const tv = await createTestVault(relay.url, fresh());
    const r = tv.remote(0);
    const other = tv.remote(0);
    try {
      await other.put('heads/a', Uint8Array.of(1, 2, 3));
      await other.put('heads/big', new Uint8Array(LIST_BODY_MAX + 1).fill(7));
      const listed = new Map((await r.list('heads/')).map((i) => [i.key, i.etag]));
      let gets = r.stats.gets;
      assert.deepEqual(await r.get('heads/a', { listed: listed.get('heads/a')! }), Uint8Array.of(1, 2, 3));
      assert.equal(r.stats.gets, gets, 'answered from the listing');
      assert.deepEqual(await r.get('heads/a', { listed: listed.get('heads/a')! }), Uint8Array.of(1, 2, 3));
      assert.equal(r.stats.gets, ++gets, 'once only');
      assert.equal((await r.get('heads/big', { listed: listed.get('heads/big')! }))?.length, LIST_BODY_MAX + 1);
      assert.equal(r.stats.gets, ++gets, 'large objects do not come with the listing');

      await r.list('heads/');
      await other.put('heads/a', Uint8Array.of(4)); // moved after the listing
      assert.deepEqual(await r.get('heads/a'), Uint8Array.of(4), 'a read without `listed` asks the relay');
      await r.list('heads/');
      assert.deepEqual(await r.get('heads/a', { listed: 'another-etag' }), Uint8Array.of(4), 'another etag asks the relay');
      assert.equal(r.stats.gets, gets + 2);
    } finally {
      await Promise.all([r.close(), other.close()]);
    }
  });
});

describe('relay push', () => {
  test('two clients see each other’s head changes by push (no polling), and not their own', async () => {
    const tv = await createTestVault(relay.url, fresh(), { devices: 2 });
    // A poll interval of an hour: anything seen within the test came by push.
    const a = tv.remote(0, { pollMs: 3_600_000 });
    const b = tv.remote(1, { pollMs: 3_600_000 });
    try {
      const { seenA, seenB, stop } = await watchHeads(a, b, 2000);
      const listsBefore = a.stats.lists + b.stats.lists;

      // How fast is the bench's business (bench/src/tasks/relay.ts); here: every change arrives, by push alone.
      for (let i = 0; i < 5; i++) {
        await a.put('heads/device-a', Uint8Array.of(i));
        await until(() => seenB.length === i + 1, 2000, `push ${i} to b`);
        await b.put('heads/device-b', Uint8Array.of(i));
        await until(() => seenA.length === i + 1, 2000, `push ${i} to a`);
      }
      await a.put('segments/device-a/000000000001', Uint8Array.of(1));
      await new Promise((r) => setTimeout(r, 30));
      assert.equal(seenA.length, 5, 'a is not told of its own writes');
      assert.equal(seenB.length, 5, 'a write outside heads/ is not pushed');
      assert.equal(a.stats.lists + b.stats.lists, listsBefore, 'no polling happened');
      stop();
      assert.equal(a.pushLive, false);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('while push is down the client polls, and it reconnects when the relay is back', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kith-'));
    let r = await startRelay({ dataDir: dir, durability: 'normal' });
    const port = r.port;
    const tv = await createTestVault(r.url, fresh(), { devices: 2 });
    const watcher = tv.remote(0, { pollMs: 20, reconnectMs: { base: 20, max: 40 }, retry: { baseDelayMs: 5, maxDelayMs: 20 } });
    try {
      let seen = 0;
      const stop = watcher.watch('heads/', () => seen++);
      await until(() => watcher.pushLive, 2000, 'socket');
      await r.close();
      await until(() => !watcher.pushLive, 2000, 'socket to drop');
      // A restarted relay has a new secret: the watcher's token is void and it signs a new challenge, unprompted.
      r = await startRelay({ dataDir: dir, port, durability: 'normal' });
      await until(() => watcher.pushLive, 3000, 'reconnect');
      const writer = tv.remote(1);
      const before = seen;
      await writer.put('heads/x', Uint8Array.of(1));
      await until(() => seen > before, 200, 'push after reconnect');
      await writer.close();
      stop();
    } finally {
      await watcher.close();
      await r.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('polling fallback notices a change when the socket cannot connect', async () => {
    const tv = await createTestVault(relay.url, fresh(), { devices: 2 });
    // A socket factory that always fails: the client must fall back to polling.
    const broken = () => {
      throw new Error('no sockets here');
    };
    const watcher = tv.remote(0, { pollMs: 20, webSocket: broken, reconnectMs: { base: 1000, max: 1000 } });
    const writer = tv.remote(1);
    try {
      let seen = 0;
      const stop = watcher.watch('heads/', () => seen++);
      await until(() => watcher.stats.lists > 0, 1000, 'first poll');
      const afterFirst = seen;
      await writer.put('heads/y', Uint8Array.of(1));
      await until(() => seen > afterFirst, 500, 'poll to see the change');
      assert.equal(watcher.pushLive, false);
      stop();
    } finally {
      await watcher.close();
      await writer.close();
    }
  });
});

describe('relay remote specifics', () => {
  test('getMany reads many objects (present and missing) in one request', async () => {
    const r = (await createTestVault(relay.url, fresh())).remote();
    try {
      // 1,500 keys asked, every 50th stored: two requests, stored and missing alike.
      const keys = Array.from({ length: 1500 }, (_, i) => `heads/d${i}`);
      await Promise.all(keys.filter((_, i) => i % 50 === 0).map((k) => r.put(k, Uint8Array.of(Number(k.slice(7)) % 256, 7))));
      const before = r.stats.gets;
      const got = await r.getMany([...keys, 'heads/missing']);
      assert.equal(r.stats.gets - before, 2, '1,000 keys a request');
      assert.equal(got.size, 1501);
      assert.deepEqual(got.get('heads/d1250'), Uint8Array.of(1250 % 256, 7));
      assert.equal(got.get('heads/d1251'), null);
      assert.equal(got.get('heads/missing'), null);
    } finally {
      await r.close();
    }
  });

  test('the URL names the vault; bad URLs are refused with KITH_BAD_REMOTE_URL', () => {
    const r = openRelayRemote('http://127.0.0.1:59/base/family');
    assert.equal(r.url, 'http://127.0.0.1:59/base/family');
    assert.equal(r.location.vault, 'family');
    for (const bad of ['ftp://x/y', 'http://x/', 'http://u:p@x/v', 'not a url', 'http://x/v%2Fw', 'http://x:6000/v', 'http://x:10080/v']) {
      assert.throws(
        () => openRelayRemote(bad),
        (e: unknown) => (e as { code?: string }).code === 'KITH_BAD_REMOTE_URL',
        bad,
      );
    }
  });

  test('an unreachable relay fails with KITH_REMOTE_UNAVAILABLE after retries', async () => {
    // (Port 59: closed, and not one of the ports fetch refuses outright, which are refused at open.)
    const r = countingRemote(openRelayRemote('http://127.0.0.1:59/v', { retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 } }));
    await assert.rejects(
      r.get('heads/x'),
      (e: unknown) => (e as { code?: string }).code === 'KITH_REMOTE_UNAVAILABLE' && /after 3 attempts/.test((e as Error).message),
    );
    assert.equal(r.stats.gets, 0);
  });
});
