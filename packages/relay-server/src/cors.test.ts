import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { parseRelayUrl, relayDeviceAuth } from '@kith/relay';
import { BEARER_PROTOCOL_PREFIX, WS_PROTOCOL } from '@kith/relay/protocol';
import { ErrorCode } from '@kith/core';
import { createTestVault, startTestRelay, type TestRelay, type TestVault } from './testing/test-vaults.js';
import fc from 'fast-check';
import { originAllowed, parseAllowedOrigins } from './cors.js';
import { startRelay } from './index.js';

const APP = 'http://127.0.0.1:5173';
const OTHER = 'https://evil.example';
let tr: TestRelay;
let tv: TestVault;
let token: string;

before(async () => {
  tr = await startTestRelay({ allowOrigins: [APP, 'https://app.example.com'] });
  tv = await createTestVault(tr.relay.url, 'cors');
  token = (await relayDeviceAuth(parseRelayUrl(tv.url), tv.key(0)).headers())['authorization']!.slice('Bearer '.length);
});
after(async () => {
  await tr.stop();
});

const objectUrl = (key: string): string => `${tr.relay.url}/v1/vaults/cors/objects/${key}`;

function preflight(origin: string, method: string, headers: string): Promise<Response> {
  return fetch(objectUrl('blobs/ab'), {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': headers },
  });
}

test('a preflight from an allowed origin allows every method and header the client sends', async () => {
  const res = await preflight(APP, 'PUT', 'authorization,content-type,if-none-match,x-kith-connection');
  assert.equal(res.status, 204);
  assert.equal(res.headers.get('access-control-allow-origin'), APP);
  const methods = res.headers.get('access-control-allow-methods')!.split(', ');
  for (const m of ['GET', 'HEAD', 'PUT', 'DELETE', 'POST']) assert.ok(methods.includes(m), m);
  const allowed = res.headers.get('access-control-allow-headers')!.split(', ');
  for (const h of ['authorization', 'content-type', 'if-none-match', 'range', 'x-kith-connection', 'x-kith-invite']) assert.ok(allowed.includes(h), h);
  assert.match(res.headers.get('vary') ?? '', /origin/i);
});

test('a preflight or a request from another origin gets no CORS headers', async () => {
  const pre = await preflight(OTHER, 'PUT', 'authorization');
  assert.equal(pre.headers.get('access-control-allow-origin'), null);
  assert.equal(pre.headers.get('access-control-allow-methods'), null);
  await pre.body?.cancel();
  const res = await fetch(objectUrl('blobs/ab'), { method: 'HEAD', headers: { origin: OTHER, authorization: `Bearer ${token}` } });
  assert.equal(res.headers.get('access-control-allow-origin'), null);
  assert.equal(res.headers.get('access-control-expose-headers'), null);
});

test('answers to an allowed origin, errors included, expose the headers the client reads', async () => {
  await fetch(objectUrl('blobs/ab'), { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body: new Uint8Array([1, 2, 3]) });
  const head = await fetch(objectUrl('blobs/ab'), { method: 'HEAD', headers: { origin: APP, authorization: `Bearer ${token}` } });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('access-control-allow-origin'), APP);
  const exposed = head.headers.get('access-control-expose-headers')!.split(', ');
  for (const h of ['etag', 'x-kith-size', 'retry-after']) assert.ok(exposed.includes(h), h);
  // A refusal too: a page must be able to read the relay's code and hint.
  const refused = await fetch(objectUrl('blobs/ab'), { headers: { origin: APP } });
  assert.equal(refused.status, 401);
  assert.equal(refused.headers.get('access-control-allow-origin'), APP);
  assert.equal(((await refused.json()) as { code: string }).code, ErrorCode.RemoteAuth);
});

test("the relay's own origin is allowed without being listed", async () => {
  const own = tr.relay.url; // http://127.0.0.1:<port>, the Host the request reaches
  const res = await preflight(own, 'DELETE', 'authorization');
  assert.equal(res.status, 204);
  assert.equal(res.headers.get('access-control-allow-origin'), own);
  const elsewhere = await preflight('http://127.0.0.1:1', 'DELETE', 'authorization');
  assert.equal(elsewhere.headers.get('access-control-allow-origin'), null);
  await elsewhere.body?.cancel();
});

/** Opens the watch socket with `origin` (none: as the CLI does) and says how it ended: `open`, or the HTTP status it was refused with. */
function watch(origin: string | undefined): Promise<{ outcome: 'open' | number; body: string }> {
  const url = `${tr.relay.url.replace(/^http/, 'ws')}/v1/vaults/cors/watch`;
  const ws = new WebSocket(url, [WS_PROTOCOL, `${BEARER_PROTOCOL_PREFIX}${token}`], origin === undefined ? {} : { origin });
  return new Promise((resolve, reject) => {
    ws.on('open', () => {
      ws.close();
      resolve({ outcome: 'open', body: '' });
    });
    ws.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ outcome: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    ws.on('error', (e) => reject(e));
  });
}

test('a watch socket from a disallowed origin is refused; allowed origins, the own origin and clients without an Origin get one', async () => {
  const refused = await watch(OTHER);
  assert.equal(refused.outcome, 403);
  assert.match(refused.body, /origin https:\/\/evil\.example may not open the watch socket/);
  assert.equal((await watch(APP)).outcome, 'open');
  assert.equal((await watch(tr.relay.url)).outcome, 'open');
  assert.equal((await watch(undefined)).outcome, 'open');
});

test('an allowed origin that is not an origin is refused at start with KITH_USAGE', async () => {
  for (const bad of ['https://app.example.com/', 'app.example.com', 'https://app.example.com/path', 'ftp://x', '*']) {
    await assert.rejects(startRelay({ dataDir: '/nonexistent/never-created', allowOrigins: [bad] }), (e: { code?: string }) => e.code === ErrorCode.Usage, bad);
  }
});

test('any serialized origin is accepted and allows exactly itself; the same with a path or a trailing slash is refused', () => {
  const origin = fc
    .tuple(fc.constantFrom('http', 'https'), fc.domain(), fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }))
    .map(([scheme, host, port]) => new URL(`${scheme}://${host}${port === undefined ? '' : `:${port}`}`).origin);
  fc.assert(
    fc.property(origin, origin, (a, b) => {
      const allowed = parseAllowedOrigins([a]);
      assert.equal(originAllowed(allowed, a, 'relay.example:8787'), true);
      assert.equal(originAllowed(allowed, b, 'relay.example:8787'), a === b);
      assert.throws(() => parseAllowedOrigins([`${a}/`]), { code: ErrorCode.Usage });
      assert.throws(() => parseAllowedOrigins([`${a}/app`]), { code: ErrorCode.Usage });
    }),
  );
});
