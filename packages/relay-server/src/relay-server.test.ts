import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { WebSocket } from 'ws';
import { openRelayRemote, parseRelayUrl, relayDeviceAuth } from '@kith/relay';
import { spawnRelayProcess, writeUntilKilled } from './testing/index.js';
import { createTestVault, type TestVault } from './testing/test-vaults.js';
import { startRelay, type RelayLogEvent, type RunningRelay } from './index.js';

let relay: RunningRelay;
let dataDir: string;
const events: RelayLogEvent[] = [];
/** Vault `t` (and others made on demand) with a registered device; `auth(name)` gives its authorization header. */
const vaults = new Map<string, TestVault>();
async function auth(name: string): Promise<Record<string, string>> {
  let tv = vaults.get(name);
  if (!tv) vaults.set(name, (tv = await createTestVault(relay.url, name)));
  return relayDeviceAuth(parseRelayUrl(tv.url), tv.key(0)).headers();
}

before(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kith-'));
  relay = await startRelay({ dataDir, durability: 'normal', bodyLimit: 1 << 20, logger: (e) => events.push(e) });
});
after(async () => {
  await relay.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** A raw request: the path goes out exactly as written (no URL normalisation). */
function raw(method: string, rawPath: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(relay.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, method, path: rawPath, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const codeOf = (r: { body: string }): string | undefined => (JSON.parse(r.body) as { code?: string }).code;

describe('relay server: hostile input', () => {
  test('health answers', async () => {
    const r = await raw('GET', '/health');
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { ok: true });
  });

  test('an oversized body is refused with 413 KITH_TOO_LARGE and stores nothing', async () => {
    const h = { 'content-type': 'application/octet-stream', ...(await auth('big')) };
    const r = await raw('PUT', '/v1/vaults/big/objects/a/b', Buffer.alloc((1 << 20) + 1), h);
    assert.equal(r.status, 413);
    assert.equal(codeOf(r), 'KITH_TOO_LARGE');
    assert.equal((await raw('GET', '/v1/vaults/big/objects/a/b', undefined, h)).status, 404);
    const ok = await raw('PUT', '/v1/vaults/big/objects/a/b', Buffer.alloc(1 << 20), h);
    assert.equal(ok.status, 204, 'exactly the limit is fine');
  });

  test('path tricks in keys and vault names are refused and touch nothing', async () => {
    const tricks = [
      '/v1/vaults/t/objects/../../etc/passwd',
      '/v1/vaults/t/objects/a/%2e%2e/b',
      '/v1/vaults/t/objects/a%2Fb',
      '/v1/vaults/t/objects/a//b',
      '/v1/vaults/t/objects/a/',
      '/v1/vaults/t/objects/',
      '/v1/vaults/t/objects/back%5Cslash',
      '/v1/vaults/t/objects/nul%00x',
      '/v1/vaults/t/objects/%C3%A9',
      `/v1/vaults/t/objects/${'k'.repeat(513)}`,
      '/v1/vaults/..%2Ft/objects/a',
      '/v1/vaults/%2e%2e/objects/a',
      '/v1/vaults/a%20b/objects/a',
    ];
    const h = await auth('t');
    for (const p of tricks) {
      const r = await raw('PUT', p, 'x', { 'content-type': 'application/octet-stream', ...h });
      assert.ok(r.status === 400 || r.status === 404, `${p}: ${r.status}`);
      assert.ok(['KITH_BAD_NAME', 'KITH_NOT_FOUND', 'KITH_BAD_INPUT'].includes(codeOf(r) ?? ''), `${p}: ${r.body}`);
    }
    const list = await raw('GET', '/v1/vaults/t/list', undefined, h);
    assert.deepEqual(
      (JSON.parse(list.body) as { items: { key: string }[] }).items.map((i) => i.key),
      ['registry/000000000001', 'vault'],
      'only the vault itself',
    );
    for (const q of ['prefix=../', 'limit=-1', 'limit=abc', 'prefix=a//b']) {
      const r = await raw('GET', `/v1/vaults/t/list?${q}`, undefined, h);
      assert.equal(r.status, 400, q);
    }
  });

  test('malformed JSON and bad batch-get requests get 400 with a code', async () => {
    const cases: [string, string][] = [
      ['{not json', 'KITH_BAD_INPUT'],
      ['[]', 'KITH_BAD_INPUT'],
      ['{"keys": "heads/a"}', 'KITH_BAD_INPUT'],
      ['{"keys": [1, 2]}', 'KITH_BAD_INPUT'],
      [JSON.stringify({ keys: Array.from({ length: 1001 }, (_, i) => `k/${i}`) }), 'KITH_BAD_INPUT'],
      ['{"keys": ["../x"]}', 'KITH_BAD_NAME'],
    ];
    const h = await auth('j');
    for (const [body, code] of cases) {
      const r = await raw('POST', '/v1/vaults/j/batch-get', body, { 'content-type': 'application/json', ...h });
      assert.equal(r.status, 400, body.slice(0, 40));
      assert.equal(codeOf(r), code, body.slice(0, 40));
    }
  });

  test('a bad watch message closes the socket (1008); the relay keeps serving', async () => {
    const ws = new WebSocket(`${relay.url.replace('http', 'ws')}/v1/vaults/w/watch`, ['kith.v1'], { headers: await auth('w') });
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    await new Promise((resolve) => ws.once('message', resolve)); // hello
    ws.send('{"type":"watch","prefixes":"heads/"}');
    assert.equal(await closed, 1008);
    assert.equal((await raw('GET', '/health')).status, 200);
  });

  test('logs carry routes and statuses, never keys, vault names, device ids, tokens or payloads', async () => {
    const secretKey = 'heads/secretdevice';
    const tv = await createTestVault(relay.url, 'secretvault');
    const r = tv.remote();
    await r.put(secretKey, new TextEncoder().encode('payload-bytes'));
    await r.get(secretKey);
    await r.close();
    const token = (await relayDeviceAuth(parseRelayUrl(tv.url), tv.key(0)).headers())['authorization']!.slice('Bearer '.length);
    // Refusals are logged too, by reason only.
    const forged = token.slice(0, -10) + (token.at(-10) === 'A' ? 'B' : 'A') + token.slice(-9);
    await raw('GET', `/v1/vaults/secretvault/objects/${secretKey}`, undefined, { authorization: `Bearer ${forged}` });
    await raw('GET', `/v1/vaults/secretvault/objects/${secretKey}`);
    const text = JSON.stringify(events);
    assert.ok(events.some((e) => e.msg === 'request' && e.route === '/v1/vaults/:vault/objects/*' && e.status === 204));
    assert.ok(events.some((e) => e.msg === 'auth refused' && e.reason === 'forged' && e.status === 401));
    assert.ok(events.some((e) => e.msg === 'auth refused' && e.reason === 'no token'));
    for (const s of ['secretdevice', 'secretvault', 'payload-bytes', tv.devices[0]!.deviceId, tv.vaultId, token.slice(3, 40)]) assert.ok(!text.includes(s), s);
  });
});

describe('relay server: crashes and shutdown', () => {
  test('kill -9 during pushes, then restart: every acknowledged write is there, whole', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kith-'));
    try {
      let proc = await spawnRelayProcess(dir);
      const tv = await createTestVault(proc.url, 'crash');
      const client = tv.remote(0, { retry: { maxAttempts: 1 } });
      const payload = (i: number): Uint8Array => new Uint8Array(4096 + (i % 7) * 1000).fill(i % 251);
      const keyOf = (i: number): string => `segments/d/${String(i).padStart(12, '0')}`;
      const acked = await writeUntilKilled(client, { keyOf, payload, kill: () => proc.kill9() });
      await client.close();
      proc = await spawnRelayProcess(dir, proc.port);
      // A new process, a new secret: the reader's first token is refused and renewed silently.
      const reader = tv.remote(0);
      try {
        const got = await reader.getMany([...acked].map(keyOf));
        for (const i of acked) assert.deepEqual(got.get(keyOf(i)), payload(i), `write ${i}`);
        // Unacknowledged writes are either absent or whole: never torn.
        for (const info of await reader.list('segments/d/')) {
          const i = Number(info.key.slice(-12));
          assert.equal(info.size, payload(i).length);
        }
      } finally {
        await reader.close();
        await proc.stop();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('close() finishes a request in flight, then refuses new connections', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kith-'));
    const r = await startRelay({ dataDir: dir, durability: 'normal' });
    try {
      const tv = await createTestVault(r.url, 'g');
      const h = await relayDeviceAuth(parseRelayUrl(tv.url), tv.key(0)).headers();
      const half = Buffer.alloc(1 << 20, 3);
      // Send the headers and half the body, so the request is in flight when close() starts.
      const answer = new Promise<number>((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port: r.port,
            method: 'PUT',
            path: '/v1/vaults/g/objects/blobs/x',
            headers: { 'content-type': 'application/octet-stream', 'content-length': String(2 * half.length), ...h },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.write(half);
        setTimeout(() => {
          const closing = r.close();
          setTimeout(() => req.end(half), 20);
          void closing;
        }, 50);
      });
      assert.equal(await answer, 204);
      await r.close();
      await assert.rejects(
        tv.remote(0, { retry: { maxAttempts: 1 } }).get('blobs/x'),
        (e: unknown) => (e as { code?: string }).code === 'KITH_REMOTE_UNAVAILABLE',
      );
      const again = await startRelay({ dataDir: dir, durability: 'normal' });
      const c2 = openRelayRemote(`${again.url}/g`);
      c2.useDeviceKey(tv.key(0));
      assert.equal((await c2.get('blobs/x'))?.length, 2 * half.length);
      await c2.close();
      await again.close();
    } finally {
      await r.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
