import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openRelayRemote } from '@kith/relay';
import { startScaleOutServices, type ScaleOutServices } from '@kith/relay-server/testing';
import { assertError, runKith, serveRelay } from './testing/index.js';

const SECRET = 'a shared secret of at least 32 bytes, for tests';

describe('kith relay serve', () => {
  let home: string;
  before(() => {
    home = mkdtempSync(join(tmpdir(), 'kith-cli-relay-'));
  });
  after(() => rmSync(home, { recursive: true, force: true }));

  test('scale-out flags: both or neither, not with --data, and a shared secret; one line each, nothing started', () => {
    const env = { KITH_RELAY_SECRET: SECRET };
    assertError(runKith(home, ['relay', 'serve', '--postgres', 'postgres://x@127.0.0.1:9/db'], { env }), 2, 'KITH_USAGE');
    assertError(runKith(home, ['relay', 'serve', '--s3', 's3://bucket/p'], { env }), 2, 'KITH_USAGE');
    assertError(
      runKith(home, ['relay', 'serve', '--postgres', 'postgres://x@127.0.0.1:9/db', '--s3', 's3://bucket/p', '--data', home], { env }),
      2,
      'KITH_USAGE',
    );
    const noSecret = runKith(home, ['relay', 'serve', '--postgres', 'postgres://x@127.0.0.1:9/db', '--s3', 's3://bucket/p'], {
      env: { KITH_RELAY_SECRET: '' },
    });
    assertError(noSecret, 2, 'KITH_USAGE');
    assert.match(noSecret.stderr, /must share an auth secret/);
    const short = runKith(home, ['relay', 'serve', '--postgres', 'postgres://x@127.0.0.1:9/db', '--s3', 's3://bucket/p'], {
      env: { KITH_RELAY_SECRET: 'too short' },
    });
    assertError(short, 2, 'KITH_USAGE');
    assert.match(short.stderr, /at least 32/);
  });

  test('PostgreSQL out of reach: one line naming the server, exit 1', () => {
    const r = runKith(
      home,
      ['relay', 'serve', '--postgres', 'postgres://kith:hunter2hunter2@127.0.0.1:9/relay', '--s3', 's3://bucket/p?endpoint=http://127.0.0.1:9'],
      { env: { KITH_RELAY_SECRET: SECRET } },
    );
    assertError(r, 1, 'KITH_REMOTE_UNAVAILABLE');
    assert.match(r.stderr, /cannot reach PostgreSQL at postgres:\/\/kith:\*\*\*@127\.0\.0\.1:9\/relay/);
    assert.doesNotMatch(r.stderr, /hunter2/);
  });

  test('--allow-origin (repeatable) lets those web apps in by CORS, not others; a value that is not an origin is refused', async () => {
    const bad = runKith(home, ['relay', 'serve', '--port', '0', '--data', join(home, 'bad-origin'), '--allow-origin', 'https://app.example.com/']);
    assertError(bad, 2, 'KITH_USAGE');
    assert.match(bad.stderr, /is not an origin/);
    const relay = await serveRelay(home, [
      '--data',
      join(home, 'cors'),
      '--allow-origin',
      'https://app.example.com',
      '--allow-origin',
      'http://127.0.0.1:5173',
    ]);
    try {
      const allowOrigin = async (origin: string): Promise<string | null> => {
        const res = await fetch(`${relay.url}/v1/vaults/v/objects/vault`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'PUT' } });
        await res.body?.cancel();
        return res.headers.get('access-control-allow-origin');
      };
      assert.equal(await allowOrigin('https://app.example.com'), 'https://app.example.com');
      assert.equal(await allowOrigin('http://127.0.0.1:5173'), 'http://127.0.0.1:5173');
      assert.equal(await allowOrigin('https://other.example.com'), null);
    } finally {
      assert.equal(await relay.stop(), 0);
    }
  });

  describe('scale-out, with PostgreSQL and S3 running', () => {
    let services: ScaleOutServices;
    before(async () => {
      services = await startScaleOutServices();
    });
    after(async () => {
      await services?.stop();
    });

    test('serves until SIGTERM; --invite-token gates vault creation; two kith devices sync through it', async () => {
      const { postgres, s3 } = await services.fresh();
      const relay = await serveRelay(home, ['--postgres', postgres, '--s3', s3, '--invite-token', 'invite-me'], { KITH_RELAY_SECRET: SECRET });
      try {
        const { url } = relay;
        assert.match(url, /^http:\/\/127\.0\.0\.1:[1-9]\d*$/, '--port 0 took a free port, and the URL names it');
        // Vault creation is a put of `vault` if absent; without the invite it is refused.
        const anon = openRelayRemote(`${url}/family`, { retry: { maxAttempts: 1 } });
        await assert.rejects(anon.put('vault', Uint8Array.of(1), { ifAbsent: true }), (e: unknown) => (e as { code?: string }).code === 'KITH_REMOTE_AUTH');
        await anon.close();
        // Two devices through the scale-out relay: the laptop creates the vault with the invite, the phone restores it.
        const [laptop, phone] = [join(home, 'laptop'), join(home, 'phone')];
        const json = (h: string, args: string[], env: Record<string, string> = {}): unknown => {
          const r = runKith(h, [...args, '--json'], { env });
          assert.equal(r.status, 0, r.stderr);
          return JSON.parse(r.stdout);
        };
        const { recoveryCode } = json(laptop, ['init', '--remote', `${url}/family`, '--name', 'laptop'], { KITH_RELAY_INVITE_TOKEN: 'invite-me' }) as {
          recoveryCode: string;
        };
        json(laptop, ['put', 'notes', 'n1', '{"title":"through PostgreSQL and S3"}', '--sync']);
        json(phone, ['restore', '--remote', `${url}/family`, '--recovery-code', recoveryCode, '--name', 'phone']);
        json(phone, ['sync']);
        assert.deepEqual(json(phone, ['get', 'notes', 'n1']), { id: 'n1', title: 'through PostgreSQL and S3' });
      } finally {
        assert.equal(await relay.stop(), 0, 'a clean shutdown on SIGTERM');
      }
    });
  });
});
