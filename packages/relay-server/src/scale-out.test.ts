import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { runRemoteConformance, runSyncScenarios } from '@kith/core/testing';
import { countingRemote } from '@kith/core/adapter';
import { openS3Remote, type S3Remote } from '@kith/s3';
import { startFaultProxy } from '@kith/s3/testing';
import { openPgS3Storage, openScaleOut, SCHEMA_VERSION, startRelay, type PgS3Storage, type RunningRelay } from './index.js';
import { startPostgres, startScaleOutServices, type ScaleOutServices } from './testing/index.js';
import { createTestVault, GENEROUS_LIMITS, withoutVaultObjects } from './testing/test-vaults.js';
import { relayScenarioHarness } from './testing/relay-scenarios.js';
import { openRelayRemote } from '@kith/relay';
import { seedPushedHeads } from './push-hub.test.support.js';
import { migrate } from './scale-out/pg-schema.js';

let services: ScaleOutServices;
let target: { postgres: string; s3: string };
/** Sends every object over 16 bytes to S3, so the conformance suite drives both paths and switches between them. */
let s3Relay: RunningRelay;
/** Default settings: what a deployment runs. */
let relay: RunningRelay;
/** The default relay's storage, for the operator's view the sync scenarios tamper through. */
let storage: PgS3Storage;
let vaults = 0;
const fresh = (): string => `v${++vaults}`;

before(async () => {
  services = await startScaleOutServices();
  target = await services.fresh();
  s3Relay = await startRelay({ ...(await openScaleOut({ ...target, inlineMax: 16 })), rateLimit: GENEROUS_LIMITS });
  const backend = await openScaleOut(target);
  storage = backend.storage;
  relay = await startRelay({ ...backend, rateLimit: GENEROUS_LIMITS });
});
after(async () => {
  await s3Relay?.close();
  await relay?.close();
  await services?.stop();
});

const isCode = (code: string) => (e: unknown) => (e as { code?: string }).code === code;

// Every conformance test runs as a registered device of a vault made for it.
runRemoteConformance(
  'relay (scale-out: PostgreSQL + S3), as an authenticated device',
  async () => {
    const remote = (await createTestVault(s3Relay.url, fresh())).remote();
    return { remote: withoutVaultObjects(remote), cleanup: () => remote.close() };
  },
  { racingOverwrites: true, tellsStored: true },
);

runSyncScenarios('relay (scale-out: PostgreSQL + S3) + SQLite store', async () => relayScenarioHarness(relay.url, storage, fresh()), {
  remoteUrl: 'http://relay.test/main',
});

describe('scale-out storage', () => {
  /** A storage of its own on the shared database and bucket; everything non-empty goes to S3. */
  const open = (o: { s3?: string } = {}): Promise<PgS3Storage> => openPgS3Storage({ ...target, ...o, inlineMax: 0, sweepEveryMs: 0 });
  /** A connection of the test's own, for what only the database can show. */
  const connect = async (): Promise<pg.Client> => {
    const c = new pg.Client({ connectionString: target.postgres });
    await c.connect();
    return c;
  };
  const s3KeyOf = async (c: pg.Client, vault: string, key: string): Promise<string | null> =>
    (await c.query<{ s3_key: string | null }>('SELECT s3_key FROM kith_relay_objects WHERE vault = $1 AND key = $2', [vault, key])).rows[0]?.s3_key ?? null;
  /** Uploads begun and not committed (tests run one at a time, so these are the test's own). */
  const pending = async (c: pg.Client): Promise<string[]> =>
    (await c.query<{ s3_key: string }>('SELECT s3_key FROM kith_relay_orphans WHERE NOT doomed')).rows.map((r) => r.s3_key);
  /** The relay's PostgreSQL backends of this test's database that wait for a lock. */
  const blocked = async (c: pg.Client): Promise<number[]> =>
    (
      await c.query<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'kith-relay' AND datname = current_database() AND wait_event_type = 'Lock'",
      )
    ).rows.map((r) => r.pid);
  const until = async (pred: () => Promise<boolean>, what: string): Promise<void> => {
    const end = Date.now() + 10_000;
    while (!(await pred())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const inS3 = async (s3: S3Remote, key: string): Promise<boolean> => (await s3.head(key)) !== null;

  test('a crash between the S3 upload and the commit leaves nothing visible, and the sweep removes the bytes', async () => {
    const storage = await open();
    const s3 = await openS3Remote(target.s3);
    const admin = await connect();
    const vault = fresh();
    try {
      const first = new Uint8Array(5000).fill(1);
      assert.equal(await storage.put(vault, 'segments/a', first), 0);
      const firstKey = (await s3KeyOf(admin, vault, 'segments/a'))!;
      // Hold the row, so the next put uploads its bytes and then waits inside its commit.
      await admin.query('BEGIN');
      await admin.query('SELECT 1 FROM kith_relay_objects WHERE vault = $1 AND key = $2 FOR UPDATE', [vault, 'segments/a']);
      const second = assert.rejects(storage.put(vault, 'segments/a', new Uint8Array(6000).fill(2)));
      await until(async () => (await blocked(admin)).length === 1, 'the put to wait in its commit');
      const [secondKey] = await pending(admin);
      assert.ok(secondKey && (await inS3(s3, secondKey)), 'the second upload is in S3');
      // The commit's connection dies (as when the relay process is killed): the transaction never commits.
      for (const pid of await blocked(admin)) await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      await second;
      await admin.query('ROLLBACK');
      assert.deepEqual(new Uint8Array((await storage.get(vault, 'segments/a'))!), first, 'the first version, whole');
      assert.deepEqual(
        (await storage.list(vault, '', '', 10)).items.map((i) => i.size),
        [5000],
      );
      // A sweep with the default grace leaves an upload that may still be in flight alone.
      assert.equal(await storage.sweep(), 0);
      assert.ok(await inS3(s3, secondKey));
      assert.equal(await storage.sweep(0), 1);
      assert.equal(await inS3(s3, secondKey), false, 'the orphaned upload is gone');
      assert.ok(await inS3(s3, firstKey), 'the referenced one stays');
      assert.deepEqual(await pending(admin), []);
      assert.deepEqual(new Uint8Array((await storage.get(vault, 'segments/a'))!), first);
    } finally {
      await admin.end();
      await s3.close();
      await storage.close();
    }
  });

  test('a sweep during a slow upload: the put fails (never acknowledged), no row points at deleted bytes, no bytes stay', async () => {
    const proxy = await startFaultProxy(services.s3.endpoint);
    const bucket = new URL(target.s3).hostname;
    const storage = await open({ s3: services.s3.url(bucket, 'relay', proxy.url) });
    const sweeper = await open();
    const s3 = await openS3Remote(target.s3);
    const admin = await connect();
    const vault = fresh();
    try {
      proxy.setFaults(({ method, path: p }) => (method === 'PUT' && p.includes('/relay/v/') ? { kind: 'slow', ms: 400 } : undefined));
      const put = assert.rejects(storage.put(vault, 'segments/b', new Uint8Array(3000).fill(3)), isCode('KITH_REMOTE_UNAVAILABLE'));
      await until(async () => (await pending(admin)).length === 1, 'the upload to start');
      const [key] = await pending(admin);
      assert.equal(await sweeper.sweep(0), 1, 'the sweep takes the upload in flight for abandoned');
      await put;
      await storage.settled();
      assert.equal(await storage.get(vault, 'segments/b'), null);
      assert.equal(await inS3(s3, key!), false, 'the bytes that landed after the sweep were removed by the writer');
    } finally {
      await admin.end();
      await s3.close();
      await sweeper.close();
      await storage.close();
      await proxy.stop();
    }
  });

  test('overwrites and deletes remove the old bytes from S3; inline and S3 objects replace each other', async () => {
    const storage = await open();
    const inline = await openPgS3Storage({ ...target, sweepEveryMs: 0 });
    const s3 = await openS3Remote(target.s3);
    const admin = await connect();
    const vault = fresh();
    try {
      assert.equal(await storage.put(vault, 'k/x', new Uint8Array(100).fill(1)), 0);
      const k1 = (await s3KeyOf(admin, vault, 'k/x'))!;
      assert.equal(await storage.put(vault, 'k/x', new Uint8Array(200).fill(2)), 100, 'an overwrite reports the size it replaced');
      const k2 = (await s3KeyOf(admin, vault, 'k/x'))!;
      await storage.settled();
      assert.deepEqual([await inS3(s3, k1), await inS3(s3, k2)], [false, true], 'the overwritten upload is deleted');
      assert.equal(await inline.put(vault, 'k/x', Uint8Array.of(9)), 200);
      await inline.settled();
      assert.equal(await inS3(s3, k2), false, 'an inline overwrite frees the upload it replaced');
      assert.equal(await s3KeyOf(admin, vault, 'k/x'), null);
      assert.deepEqual(Buffer.from((await storage.get(vault, 'k/x'))!), Buffer.of(9));
      await storage.put(vault, 'k/x', new Uint8Array(300).fill(3));
      const k3 = (await s3KeyOf(admin, vault, 'k/x'))!;
      assert.equal(await storage.put(vault, 'k/x', new Uint8Array(400).fill(4), true), null, 'put-if-absent refuses');
      assert.equal(await inline.put(vault, 'k/x', Uint8Array.of(4), true), null);
      assert.equal((await storage.head(vault, 'k/x'))?.size, 300);
      assert.equal(await storage.delete(vault, 'k/x'), true);
      assert.equal(await storage.delete(vault, 'k/x'), false);
      await storage.settled();
      assert.equal(await inS3(s3, k3), false, 'a delete frees the upload');
      const { rows } = await admin.query('SELECT count(*)::int AS n FROM kith_relay_orphans WHERE s3_key = ANY($1)', [[k1, k2, k3]]);
      assert.equal(rows[0].n, 0, 'no orphan rows left');
    } finally {
      await admin.end();
      await s3.close();
      await inline.close();
      await storage.close();
    }
  });

  test('processes starting at once on a fresh database migrate it once; a newer schema is refused', async () => {
    const db = await services.postgres.database();
    const stores = await Promise.all([1, 2, 3].map(() => openPgS3Storage({ postgres: db, s3: target.s3, sweepEveryMs: 0 })));
    const admin = new pg.Client({ connectionString: db });
    await admin.connect();
    try {
      assert.deepEqual((await admin.query('SELECT version FROM kith_relay_schema')).rows, [{ version: SCHEMA_VERSION }]);
      await Promise.all(stores.map((s, i) => s.put('v', `k/${i}`, Uint8Array.of(i))));
      assert.equal((await stores[0]!.list('v', 'k/', '', 10)).items.length, 3);
      await admin.query('UPDATE kith_relay_schema SET version = 99');
      await assert.rejects(
        openPgS3Storage({ postgres: db, s3: target.s3 }),
        (e: unknown) => isCode('KITH_STORE_TOO_NEW')(e) && /version 99/.test((e as Error).message),
      );
    } finally {
      await admin.end();
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  test('a database of schema 1 with objects in it is upgraded in place: overwrites then report the size they replace', async () => {
    const db = await services.postgres.database();
    const pool = new pg.Pool({ connectionString: db, max: 1 });
    try {
      assert.equal(await migrate(pool, 1), 0);
      // Written by a relay of schema 1 (its kith_relay_put returns no size).
      await pool.query('SELECT wrote, garbage FROM kith_relay_put($1, $2, $3, $4, $5, NULL, false)', ['v', 'heads/a', 3, 'etag-1', Buffer.of(1, 2, 3)]);
    } finally {
      await pool.end();
    }
    const store = await openPgS3Storage({ postgres: db, s3: target.s3, sweepEveryMs: 0 });
    try {
      assert.deepEqual(Buffer.from((await store.get('v', 'heads/a'))!), Buffer.of(1, 2, 3), 'the old object survived the upgrade');
      assert.equal(await store.put('v', 'heads/a', Uint8Array.of(9)), 3);
      assert.equal(await store.put('v', 'heads/b', Uint8Array.of(9)), 0);
    } finally {
      await store.close();
    }
  });

  test('PostgreSQL or S3 out of reach fails at start in one line that says what to check', async () => {
    const pgPort = services.postgres.port;
    const bucket = new URL(target.s3).hostname;
    const cases: [Parameters<typeof openPgS3Storage>[0], string, RegExp][] = [
      [
        { postgres: 'postgres://postgres@127.0.0.1:9/kith', s3: target.s3 },
        'KITH_REMOTE_UNAVAILABLE',
        /cannot reach PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:9\/kith \(ECONNREFUSED\)/,
      ],
      [
        { postgres: `postgres://postgres:secret@127.0.0.1:${pgPort}/no_such_db`, s3: target.s3 },
        'KITH_REMOTE_NOT_FOUND',
        /database "no_such_db" does not exist/,
      ],
      [{ postgres: 'mysql://x/y', s3: target.s3 }, 'KITH_BAD_REMOTE_URL', /scheme must be postgres/],
      [{ postgres: target.postgres, s3: services.s3.url('no-such-bucket-here', 'relay') }, 'KITH_REMOTE_NOT_FOUND', /no-such-bucket-here/],
      [{ postgres: target.postgres, s3: `s3://${bucket}/relay?endpoint=http://127.0.0.1:9` }, 'KITH_REMOTE_UNAVAILABLE', /cannot store objects in s3:\/\//],
    ];
    for (const [o, code, message] of cases) {
      const t0 = Date.now();
      await assert.rejects(openPgS3Storage(o), (e: unknown) => {
        assert.equal((e as { code?: string }).code, code, String(e));
        assert.match((e as Error).message, message);
        assert.ok(!(e as Error).message.includes('\n') && !(e as Error).message.includes('secret'), (e as Error).message);
        return true;
      });
      assert.ok(Date.now() - t0 < 15_000, `${code} within 15 s`);
    }
  });

  test('startPostgres fails with one line naming the package when the server binaries are missing', async () => {
    const saved = process.env['KITH_PG_BIN'];
    process.env['KITH_PG_BIN'] = '/nonexistent/postgresql/bin';
    try {
      await assert.rejects(
        startPostgres(),
        /PostgreSQL server binaries not found \(KITH_PG_BIN=\/nonexistent\/postgresql\/bin\): install them with `apt-get install -y postgresql`/,
      );
    } finally {
      if (saved === undefined) delete process.env['KITH_PG_BIN'];
      else process.env['KITH_PG_BIN'] = saved;
    }
  });
});

describe('scale-out auth', () => {
  test('a process trusting its cached registry still refuses a device revoked through another process as soon as the bus tells it', async () => {
    // A trust window far longer than the test: only the change bus can end it.
    const other = await startRelay({ ...(await openScaleOut(target)), rateLimit: GENEROUS_LIMITS, registryTrustMs: 60_000 });
    const name = fresh();
    const tv = await createTestVault(relay.url, name, { devices: 2 });
    const atOther = (i: number) => {
      const r = openRelayRemote(`${other.url}/${name}`, { retry: { maxAttempts: 1 } });
      r.useDeviceKey(tv.key(i));
      return r;
    };
    const [r0, r1] = [atOther(0), atOther(1)];
    try {
      assert.deepEqual(await r1.list('heads/'), []);
      assert.deepEqual(await r1.list('heads/'), []); // checked, then trusted
      await tv.revoke(1); // through the first process
      const t0 = Date.now();
      for (;;) {
        const refused = await r1.list('heads/').then(
          () => false,
          (e: unknown) => (assert.ok(isCode('KITH_REVOKED')(e), String(e)), true),
        );
        if (refused) break;
        assert.ok(Date.now() - t0 < 5_000, 'the revocation reached the other process through the bus');
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.deepEqual(await r0.list('heads/'), [], 'the other device goes on');
    } finally {
      await Promise.all([r0.close(), r1.close()]);
      await other.close();
    }
  });
});

describe('scale-out push bodies', () => {
  test('a head written through one process reaches a device on another with its bytes: that device lists and reads it without a request', async () => {
    const other = await startRelay({ ...(await openScaleOut(target)), rateLimit: GENEROUS_LIMITS });
    const name = fresh();
    const tv = await createTestVault(relay.url, name, { devices: 2 });
    const writer = tv.remote(0);
    const reader = countingRemote(openRelayRemote(`${other.url}/${name}`, { pollMs: 3_600_000 }));
    reader.useDeviceKey(tv.key(1));
    let told = 0;
    const stop = reader.watch('heads/', () => void told++);
    try {
      await writer.put('heads/w', Uint8Array.of(1));
      await seedPushedHeads(reader);
      const before = { ...reader.stats };
      const seen = told;
      await writer.put('heads/w', Uint8Array.of(2));
      for (const t0 = Date.now(); told === seen; await new Promise((r) => setTimeout(r, 5))) assert.ok(Date.now() - t0 < 10_000, 'told through the bus');
      const listed = await reader.list('heads/');
      assert.deepEqual(listed, await writer.list('heads/'));
      assert.deepEqual(await reader.get('heads/w', { listed: listed[0]!.etag }), Uint8Array.of(2));
      assert.deepEqual([reader.stats.lists, reader.stats.gets], [before.lists, before.gets], 'no request');
    } finally {
      stop();
      await Promise.all([writer.close(), reader.close()]);
      await other.close();
    }
  });
});
