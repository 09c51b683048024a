import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { openS3Remote } from '@kith/s3';
import { countingRemote, ErrorCode, type CountingRemote } from '@kith/core/adapter';
import { openRelayRemote, parseRelayUrl, relayDeviceAuth, type RelayRemote } from '@kith/relay';
import { openPgS3Storage, PROBE_KEY, UPLOADS } from './index.js';
import { spawnRelayProcess, startScaleOutServices, writeUntilKilled, type RelayProcess, type ScaleOutServices } from './testing/index.js';
import { createTestVault, until, watchHeads, type TestVault } from './testing/test-vaults.js';
import { WebSocket } from 'ws';
import { appendMembership, spaceEpochKey } from '@kith/core/spaces';
import { call, deps as spaceDeps, objectUrl, relaySpace, signInRefusal, tokenFor, watchUrl } from './space-world.test.support.js';

let services: ScaleOutServices;
let target: { postgres: string; s3: string; authSecret: string };
let relayA: RelayProcess;
let relayB: RelayProcess;
let admin: pg.Client;
let vaults = 0;
const fresh = (): string => `p${++vaults}`;

before(async () => {
  services = await startScaleOutServices();
  // One deployment: every process shares the auth secret, so each accepts the others' tokens.
  target = { ...(await services.fresh()), authSecret: 'a shared secret of at least 32 bytes, for tests' };
  // The first start migrates the fresh database; the second finds it done.
  relayA = await spawnRelayProcess(target);
  relayB = await spawnRelayProcess(target);
  admin = await adminClient();
});
after(async () => {
  await admin?.end();
  await relayA?.stop();
  await relayB?.stop();
  await services?.stop();
});

/** A connection of the test's own; one the server drops (the restart test) must not fail the run. */
async function adminClient(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: target.postgres });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/** Two devices of one vault, one on each relay process, push only (a poll interval of an hour). */
async function devicePair(): Promise<{
  tv: TestVault;
  a: RelayRemote & CountingRemote;
  b: RelayRemote & CountingRemote;
  seenA: number[];
  seenB: number[];
  close(): Promise<void>;
}> {
  const tv = await createTestVault(relayA.url, fresh(), { devices: 2 });
  const o = { pollMs: 3_600_000, reconnectMs: { base: 20, max: 200 } };
  const a = tv.remote(0, o);
  const b = countingRemote(openRelayRemote(tv.url.replace(relayA.url, relayB.url), o));
  b.useDeviceKey(tv.key(1));
  const { seenA, seenB, stop } = await watchHeads(a, b, 5000);
  return {
    tv,
    a,
    b,
    seenA,
    seenB,
    async close() {
      stop();
      await a.close();
      await b.close();
    },
  };
}

describe('scale-out: several relay processes', () => {
  test('a device on each of two relay processes sees the other’s changes in real time (push, no polling)', async (t) => {
    assert.notEqual(relayA.port, relayB.port);
    const d = await devicePair();
    try {
      const listsBefore = d.a.stats.lists + d.b.stats.lists;
      const latencies: number[] = [];
      for (let i = 0; i < 10; i++) {
        const t0 = Date.now();
        await d.a.put('heads/device-a', Uint8Array.of(i));
        await until(() => d.seenB.length === i + 1, 10_000, `push ${i} to b`);
        latencies.push(d.seenB[i]! - t0);
        assert.deepEqual(await d.b.get('heads/device-a'), Uint8Array.of(i), 'b reads what a wrote through the other process');
        const t1 = Date.now();
        await d.b.put('heads/device-b', new Uint8Array(100_000).fill(i)); // over the inline limit: bytes in S3
        await until(() => d.seenA.length === i + 1, 10_000, `push ${i} to a`);
        latencies.push(d.seenA[i]! - t1);
        assert.equal((await d.a.get('heads/device-b'))?.length, 100_000);
      }
      latencies.sort((x, y) => x - y);
      t.diagnostic(`write-to-push latency across processes: median ${latencies[10]} ms, max ${latencies[19]} ms`);
      // Polling is off, so every arrival came by push; how fast is the benchmark's business (bench --only relay), not a timed test's.
      await new Promise((r) => setTimeout(r, 30));
      assert.equal(d.seenA.length, 10, 'a is not told of its own writes');
      assert.equal(d.a.stats.lists + d.b.stats.lists, listsBefore, 'no polling happened');
      // A token relay A issued is good at relay B: the processes share the secret.
      const headers = await relayDeviceAuth(parseRelayUrl(d.tv.url), d.tv.key(0)).headers();
      const res = await fetch(`${relayB.url}/v1/vaults/${parseRelayUrl(d.tv.url).vault}/objects/heads/device-a`, { headers });
      assert.equal(res.status, 200);
      assert.deepEqual(new Uint8Array(await res.arrayBuffer()), Uint8Array.of(9));
    } finally {
      await d.close();
    }
  });

  test('the change bus reconnects after its connection is killed and after a PostgreSQL restart; push resumes', async () => {
    const d = await devicePair();
    const busBackends = async (): Promise<number> =>
      (await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'kith-relay-bus' AND datname = current_database()")).rows[0]
        .n as number;
    try {
      assert.equal(await busBackends(), 2, 'one LISTEN connection per process');
      // 1. Connection loss: kill both processes' bus connections.
      await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'kith-relay-bus'");
      // Back, each bus tells its sockets that changes may have been missed: the clients reconnect and report a change once.
      await until(() => d.seenA.length > 0 && d.seenB.length > 0, 5000, 'a change report after the bus came back');
      await until(() => d.a.pushLive && d.b.pushLive, 5000, 'sockets back');
      assert.equal(await busBackends(), 2, 'both buses listen again');
      let before = d.seenB.length;
      await d.a.list('heads/');
      await d.b.list('heads/');
      await d.a.put('heads/device-a', Uint8Array.of(1));
      await until(() => d.seenB.length > before, 1000, 'push after the bus reconnected');

      // 2. PostgreSQL restarts (every connection dropped, 300 ms down).
      const reportsA = d.seenA.length;
      const reportsB = d.seenB.length;
      await services.postgres.restart(300);
      await admin.end().catch(() => undefined);
      admin = await adminClient();
      const end = Date.now() + 10_000;
      while ((await busBackends()) !== 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      assert.equal(await busBackends(), 2, 'both buses listen again');
      // Each bus, back, makes its sockets reconnect; the clients report a change once.
      await until(() => d.seenA.length > reportsA && d.seenB.length > reportsB, 5000, 'a change report after the restart');
      await until(() => d.a.pushLive && d.b.pushLive, 5000, 'sockets back after the restart');
      await d.a.list('heads/');
      await d.b.list('heads/');
      before = d.seenB.length;
      await d.a.put('heads/device-a', Uint8Array.of(2));
      await until(() => d.seenB.length > before, 1000, 'push after PostgreSQL restarted');
      assert.deepEqual(await d.b.get('heads/device-a'), Uint8Array.of(2));
    } finally {
      await d.close();
    }
  });

  test('kill -9 of a scale-out relay during pushes, then restart: every acknowledged write is there, whole; the sweep leaves S3 exactly what is referenced', async () => {
    let proc = await spawnRelayProcess(target);
    const tv = await createTestVault(proc.url, fresh());
    const client = tv.remote(0, { retry: { maxAttempts: 1 } });
    // Mixed sizes: inline in PostgreSQL, and over the limit (bytes in S3, the window between upload and commit).
    const payload = (i: number): Uint8Array => new Uint8Array(i % 2 === 0 ? 3000 + (i % 7) * 100 : 70_000 + (i % 5) * 1000).fill(i % 251);
    const keyOf = (i: number): string => `segments/d/${String(i).padStart(12, '0')}`;
    const acked = await writeUntilKilled(client, { keyOf, payload, kill: () => proc.kill9() });
    await client.close();
    proc = await spawnRelayProcess(target, proc.port);
    const reader = tv.remote(0);
    const storage = await openPgS3Storage({ ...target, sweepEveryMs: 0 });
    const s3 = await openS3Remote(target.s3);
    try {
      const got = await reader.getMany([...acked].map(keyOf));
      for (const i of acked) assert.deepEqual(got.get(keyOf(i)), payload(i), `write ${i}`);
      // Unacknowledged writes are either absent or whole: never torn.
      for (const info of await reader.list('segments/d/')) assert.equal(info.size, payload(Number(info.key.slice(-12))).length);
      // Uploads the kill cut off before their commit are garbage; a sweep (grace 0: no put is in flight now) removes them.
      await storage.sweep(0);
      const referenced = (await admin.query<{ s3_key: string }>('SELECT s3_key FROM kith_relay_objects WHERE s3_key IS NOT NULL')).rows
        .map((r) => r.s3_key)
        .sort();
      const inBucket = (await s3.list(UPLOADS))
        .map((i) => i.key)
        .filter((k) => k !== PROBE_KEY)
        .sort();
      assert.deepEqual(inBucket, referenced, 'S3 holds exactly the referenced uploads');
      assert.equal((await admin.query('SELECT count(*)::int AS n FROM kith_relay_orphans')).rows[0].n, 0);
    } finally {
      await s3.close();
      await storage.close();
      await reader.close();
      await proc.stop();
    }
  });

  test('a space member removed through one process is refused by the other (KITH_REMOVED), and its watch socket there is closed', async () => {
    const s = await relaySpace(relayA.url);
    const onB = s.url.replace(relayA.url, relayB.url);
    // Both processes have the space cached and trusted before the removal.
    const carol = await tokenFor(onB, s.key(s.carol));
    assert.equal((await call('GET', objectUrl(onB, spaceEpochKey(0)), { token: carol })).status, 200);
    const ws = new WebSocket(watchUrl(onB), ['kith.v1', `kith.bearer.${carol}`]);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    const a = s.remote(s.alice);
    await appendMembership(a, (await s.state(a)).m, s.alice.keys, { kind: 'remove', personId: s.carol.keys.personId }, spaceDeps);
    // Closed by the bus's notice (B serves no request meanwhile), long before its 30 s sweep would look.
    assert.equal(await Promise.race([closed, new Promise((r) => setTimeout(() => r('still open'), 10_000))]), 1008);
    // The bus brings the notice at once; without it, B trusts its cache for at most registryTrustMs (1 s) before it looks again.
    let refused = await call('GET', objectUrl(onB, spaceEpochKey(0)), { token: carol });
    for (const end = Date.now() + 10_000; refused.status === 200 && Date.now() < end;) {
      await new Promise((r) => setTimeout(r, 20));
      refused = await call('GET', objectUrl(onB, spaceEpochKey(0)), { token: carol });
    }
    assert.deepEqual([refused.status, refused.code], [403, ErrorCode.Removed]);
    assert.equal(await signInRefusal(onB, s.key(s.carol)), ErrorCode.Removed);
    // The others go on through either process.
    const bob = s.remote(s.bob, 'device', relayB.url);
    assert.equal((await s.state(bob)).m.member(s.carol.keys.personId), undefined);
    await Promise.all([a.close(), bob.close()]);
  });
});
