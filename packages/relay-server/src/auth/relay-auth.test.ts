import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { ErrorCode, KithError } from '@kith/core/adapter';
import { encodeRegistryEntry, generateDeviceKeys, remoteDeviceKey, sha256, toBase64url } from '@kith/core/relay';
import { Vault } from '@kith/core';
import { openMemoryStore } from '@kith/core/testing';
import { openRelayRemote, parseRelayUrl, relayDeviceAuth } from '@kith/relay';
import { createTestVault, operatorRemote, startTestRelay, type TestRelay, type TestVault } from '../testing/test-vaults.js';
import type { ObjectDb } from '../object-db.js';
import type { RelayLogEvent, RelayOptions, RunningRelay } from '../index.js';

const started: TestRelay[] = [];

/** A relay on its own SQLite file (or on `dir`'s), stopped after the file's tests. */
async function relayWith(o: Partial<RelayOptions> = {}, dir?: string): Promise<TestRelay> {
  const t = await startTestRelay(o, dir);
  started.push(t);
  return t;
}

after(async () => {
  for (const t of started) await t.stop();
});

let relay: RunningRelay;
let db: ObjectDb;
const events: RelayLogEvent[] = [];
let names = 0;
const fresh = (): string => `a${++names}`;

before(async () => {
  ({ relay, db } = await relayWith({ logger: (e) => events.push(e) }));
});

/** One request as a client sends it; the JSON error code, if any. */
async function call(
  method: string,
  url: string,
  o: { token?: string; body?: Uint8Array | string; json?: boolean; headers?: Record<string, string> } = {},
): Promise<{ status: number; code?: string; text: string; headers: Headers }> {
  const headers: Record<string, string> = { 'content-type': o.json ? 'application/json' : 'application/octet-stream', ...o.headers };
  if (o.token) headers['authorization'] = `Bearer ${o.token}`;
  const res = await fetch(url, { method, headers, ...(o.body !== undefined ? { body: o.body as BodyInit } : {}) });
  const text = await res.text();
  let code: string | undefined;
  try {
    code = (JSON.parse(text) as { code?: string }).code;
  } catch {
    // not JSON
  }
  return { status: res.status, text, headers: res.headers, ...(code !== undefined ? { code } : {}) };
}

const objects = (tv: TestVault, key = ''): string => `${tv.url.replace(/\/([^/]+)$/, '/v1/vaults/$1')}/objects/${key}`;
const route = (tv: TestVault, tail: string): string => tv.url.replace(/\/([^/]+)$/, `/v1/vaults/$1/${tail}`);
const tokenOf = async (tv: TestVault, i = 0): Promise<string> =>
  (await relayDeviceAuth(parseRelayUrl(tv.url), tv.key(i)).headers())['authorization']!.slice('Bearer '.length);
const isCode = (code: string) => (e: unknown) => KithError.is(e) && e.code === code;

/** Every way in to one vault's objects; each must be refused with `status`. */
async function refusedEverywhere(tv: TestVault, status: number, token: string | undefined): Promise<void> {
  const o = token === undefined ? {} : { token };
  const tries: [string, Promise<{ status: number }>][] = [
    ['list all', call('GET', route(tv, 'list'), o)],
    ['list heads', call('GET', route(tv, 'list?prefix=heads/'), o)],
    ['get', call('GET', objects(tv, 'heads/d'), o)],
    ['head', call('HEAD', objects(tv, 'heads/d'), o)],
    ['put', call('PUT', objects(tv, 'heads/evil'), { ...o, body: 'x' })],
    ['put registry', call('PUT', objects(tv, 'registry/000000000099'), { ...o, body: 'x' })],
    ['delete', call('DELETE', objects(tv, 'heads/d'), o)],
    ['batch-get', call('POST', route(tv, 'batch-get'), { ...o, json: true, body: JSON.stringify({ keys: ['heads/d'] }) })],
  ];
  for (const [what, p] of tries) assert.equal((await p).status, status, what);
}

describe('relay auth: who is refused', () => {
  test('without a token nothing can be listed, read or written; only the bootstrap reads are open', async () => {
    const tv = await createTestVault(relay.url, fresh());
    const r = tv.remote();
    await r.put('heads/d', Uint8Array.of(1, 2, 3));
    await refusedEverywhere(tv, 401, undefined);
    const anon = await call('GET', objects(tv, 'heads/d'));
    assert.equal(anon.code, ErrorCode.RemoteAuth);
    const ws = new WebSocket(route(tv, 'watch').replace('http', 'ws'), ['kith.v1']);
    ws.on('error', () => undefined);
    const refusal = await new Promise((resolve) =>
      ws.once('unexpected-response', (req, res) => {
        resolve(res.statusCode);
        req.destroy();
      }),
    );
    assert.equal(refusal, 401);
    // What a device needs before it is registered: the header and the registry.
    assert.equal((await call('GET', objects(tv, 'vault'))).status, 200);
    assert.deepEqual(
      (JSON.parse((await call('GET', route(tv, 'list?prefix=registry/'))).text) as { items: { key: string }[] }).items.map((i) => i.key),
      ['registry/000000000001'],
    );
    // Nothing was touched.
    assert.deepEqual(
      (await operatorRemote(db, parseRelayUrl(tv.url).vault).list('')).map((i) => i.key),
      ['heads/d', 'registry/000000000001', 'vault'],
    );
    assert.deepEqual(await r.get('heads/d'), Uint8Array.of(1, 2, 3));
    await r.close();
  });

  test('a device of another vault: its token is refused here, and its key gets no token here', async () => {
    const [here, there] = [await createTestVault(relay.url, fresh()), await createTestVault(relay.url, fresh())];
    await refusedEverywhere(here, 401, await tokenOf(there));
    const stranger = openRelayRemote(here.url);
    stranger.useDeviceKey(there.key(0));
    await assert.rejects(stranger.list(''), isCode(ErrorCode.RemoteAuth));
    await assert.rejects(stranger.put('heads/x', Uint8Array.of(1)), isCode(ErrorCode.RemoteAuth));
    await stranger.close();
    // Claiming a registered device's id with another key: the signature does not verify.
    const impostor = openRelayRemote(here.url);
    impostor.useDeviceKey(
      remoteDeviceKey(here.vaultId, here.devices[0]!.deviceId, generateDeviceKeys((n) => crypto.getRandomValues(new Uint8Array(n))).sign.seed),
    );
    await assert.rejects(impostor.get('vault'), isCode(ErrorCode.RemoteAuth));
    await impostor.close();
    assert.deepEqual(
      (await operatorRemote(db, parseRelayUrl(here.url).vault).list('')).map((i) => i.key),
      ['registry/000000000001', 'vault'],
    );
  });

  test('a revoked device is refused at once: its live token, its push socket, any new token', async () => {
    const tv = await createTestVault(relay.url, fresh(), { devices: 2 });
    const keeper = tv.remote(0);
    const lost = tv.remote(1, { pollMs: 3_600_000, reconnectMs: { base: 10_000, max: 10_000 } });
    await lost.put('heads/lost', Uint8Array.of(1));
    const stop = lost.watch('heads/', () => undefined);
    for (const t0 = Date.now(); !lost.pushLive; await new Promise((r) => setTimeout(r, 5))) assert.ok(Date.now() - t0 < 2000, 'socket up');
    const liveToken = await tokenOf(tv, 1);
    await tv.revoke(1);
    for (const t0 = Date.now(); lost.pushLive; await new Promise((r) => setTimeout(r, 5))) assert.ok(Date.now() - t0 < 500, 'socket closed at once');
    await refusedEverywhere(tv, 403, liveToken);
    assert.equal((await call('GET', objects(tv, 'heads/lost'), { token: liveToken })).code, ErrorCode.Revoked);
    await assert.rejects(lost.get('heads/lost'), isCode(ErrorCode.Revoked));
    await assert.rejects(lost.put('heads/lost', Uint8Array.of(2)), isCode(ErrorCode.Revoked));
    const again = tv.remote(1);
    await assert.rejects(again.list('heads/'), isCode(ErrorCode.Revoked));
    // The other device goes on, and sees nothing the revoked one tried.
    assert.deepEqual(await keeper.get('heads/lost'), Uint8Array.of(1));
    assert.deepEqual(
      (await keeper.list('heads/')).map((i) => i.key),
      ['heads/lost'],
    );
    stop();
    await Promise.all([keeper.close(), lost.close(), again.close()]);
  });

  test('forged, altered, foreign and expired tokens are refused; clients renew expired ones silently', async () => {
    const tv = await createTestVault(relay.url, fresh());
    const token = await tokenOf(tv);
    const [, payload, tag] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    const other = await createTestVault(relay.url, fresh(), { devices: 2 });
    const altered = [
      { ...claims, signer: other.devices[1]!.deviceId },
      { ...claims, vault: parseRelayUrl(other.url).vault },
      { ...claims, expiresAt: Number(claims['expiresAt']) + 3_600_000 },
    ];
    for (const c of altered) {
      const forged = `v1.${Buffer.from(JSON.stringify(c)).toString('base64url')}.${tag}`;
      assert.equal((await call('GET', objects(tv, 'vault'), { token: forged })).status, 401);
      assert.equal((await call('GET', route(other, 'list'), { token: forged })).status, 401);
    }
    for (const junk of ['', 'v1', 'v1..', `v2.${payload}.${tag}`, `${token}.x`, 'Bearer'])
      assert.equal((await call('GET', route(tv, 'list'), { token: junk })).status, 401, junk);
    // A token already checked (the relay remembers it) is still bound to its vault.
    assert.equal((await call('GET', route(tv, 'list'), { token })).status, 200);
    assert.equal((await call('GET', route(other, 'list'), { token })).status, 401);
    // Issued by a relay with another secret, for a vault of the same name and device.
    const { relay: elsewhere } = await relayWith();
    const twin = await createTestVault(elsewhere.url, parseRelayUrl(tv.url).vault);
    await refusedEverywhere(tv, 401, await tokenOf(twin));
    // Expired: refused, and a client renews without being asked.
    const { relay: brief } = await relayWith({ tokenTtlMs: 200 });
    const short = await createTestVault(brief.url, fresh());
    const old = await tokenOf(short);
    assert.equal((await call('GET', objects(short, 'heads/x'), { token: old })).status, 404, 'accepted (and remembered) while fresh');
    const client = short.remote();
    await client.put('heads/x', Uint8Array.of(1));
    await new Promise((r) => setTimeout(r, 250));
    assert.equal((await call('GET', objects(short, 'heads/x'), { token: old })).status, 401);
    assert.deepEqual(await client.get('heads/x'), Uint8Array.of(1));
    await client.close();
    assert.ok(events.some((e) => e.msg === 'auth refused' && e.reason === 'forged'));
  });

  test('challenges: single use, bound to the vault, the signer and the key', async () => {
    const tv = await createTestVault(relay.url, fresh(), { devices: 2 });
    const signer = tv.devices[0]!.deviceId;
    const ask = async (t: TestVault, who: string): Promise<string> =>
      (JSON.parse((await call('POST', route(t, 'auth/challenge'), { json: true, body: JSON.stringify({ signer: who }) })).text) as { challenge: string })
        .challenge;
    const answer = (t: TestVault, challenge: string, signature: Uint8Array) =>
      call('POST', route(t, 'auth/token'), { json: true, body: JSON.stringify({ challenge, signature: toBase64url(signature) }) });
    const challenge = await ask(tv, signer);
    const sig = await tv.key(0).sign(Buffer.from(challenge, 'base64url'));
    assert.equal((await answer(tv, challenge, sig)).status, 200);
    assert.equal((await answer(tv, challenge, sig)).status, 401, 'replayed');
    // Signed by another registered device's key, or answered at another vault.
    const c2 = await ask(tv, signer);
    assert.equal((await answer(tv, c2, await tv.key(1).sign(Buffer.from(c2, 'base64url')))).status, 401);
    const other = await createTestVault(relay.url, fresh());
    const c3 = await ask(tv, signer);
    assert.equal((await answer(other, c3, await tv.key(0).sign(Buffer.from(c3, 'base64url')))).status, 401);
    // A challenge altered to name another signer no longer carries the relay's tag.
    const bytes = Buffer.from(await ask(tv, signer), 'base64url');
    const swapped = Buffer.from(bytes.toString('latin1').replace(signer, tv.devices[1]!.deviceId), 'latin1');
    assert.equal((await answer(tv, swapped.toString('base64url'), await tv.key(1).sign(swapped))).status, 401);
    for (const bad of ['{}', '{"signer":"root"}', '{"signer":"../x"}', 'nope'])
      assert.equal((await call('POST', route(tv, 'auth/challenge'), { json: true, body: bad })).status, 400, bad);
    assert.equal((await call('POST', route(tv, 'auth/token'), { json: true, body: '{"challenge":"AAAA","signature":"AAAA"}' })).status, 401);
  });
});

describe('relay auth: the keys with meaning to the relay', () => {
  test('the registry is append-only and each entry is verified before it is stored', async () => {
    const tv = await createTestVault(relay.url, fresh());
    const token = await tokenOf(tv);
    const newcomer = generateDeviceKeys((n) => crypto.getRandomValues(new Uint8Array(n)));
    const prev = (await operatorRemote(db, parseRelayUrl(tv.url).vault).get('registry/000000000001'))!;
    const prevHash = await sha256(prev);
    const add = { kind: 'add' as const, deviceId: newcomer.deviceId, name: 'new', signPub: newcomer.sign.pub, boxPub: newcomer.box.pub };
    const entry = (signer: string, seed: Uint8Array, seq = 2) => encodeRegistryEntry(tv.vaultId, { seq, prevHash, at: Date.now(), signer, change: add }, seed);
    const put = (key: string, body: Uint8Array | string, t: string | null = token) =>
      call('PUT', objects(tv, key), { ...(t ? { token: t } : {}), body, headers: { 'if-none-match': '*' } });
    assert.equal((await put('registry/000000000002', 'garbage')).status, 422);
    assert.equal(
      (await put('registry/000000000002', (await entry(newcomer.deviceId, newcomer.sign.seed)).bytes)).code,
      ErrorCode.IntegrityUnknownSigner,
      'a stranger signs itself in',
    );
    assert.equal((await put('registry/000000000003', (await entry(tv.devices[0]!.deviceId, tv.devices[0]!.sign.seed, 3)).bytes)).status, 400, 'a gap');
    const good = (await entry(tv.devices[0]!.deviceId, tv.devices[0]!.sign.seed)).bytes;
    assert.equal((await put('registry/000000000002', good, null)).status, 401, 'no token, no entry');
    assert.equal((await put('registry/000000000002', good)).status, 204);
    assert.equal((await put('registry/000000000002', good)).status, 412);
    assert.equal((await put('registry/x', good)).status, 400);
    for (const key of ['registry/000000000001', 'vault']) assert.equal((await call('DELETE', objects(tv, key), { token })).status, 403, key);
    assert.equal((await put('vault', (await operatorRemote(db, parseRelayUrl(tv.url).vault).get('vault'))!)).status, 412);
    // The device it added is admitted at once.
    const r = openRelayRemote(tv.url);
    r.useDeviceKey(remoteDeviceKey(tv.vaultId, newcomer.deviceId, newcomer.sign.seed));
    await r.put('heads/new', Uint8Array.of(1));
    await r.close();
  });

  test('vault creation: open, or gated by an invite token; never a bad header, never over leftovers', async () => {
    const { relay: gated, db: gatedDb } = await relayWith({ inviteToken: 'let-me-in' });
    await assert.rejects(
      createTestVault(gated.url, 'family'),
      (e: unknown) =>
        isCode(ErrorCode.RemoteAuth)(e) && /invite token/.test((e as KithError).message) && /KITH_RELAY_INVITE_TOKEN/.test((e as KithError).hint ?? ''),
    );
    await assert.rejects(createTestVault(gated.url, 'family', { inviteToken: 'guess' }), isCode(ErrorCode.RemoteAuth));
    assert.equal(await operatorRemote(gatedDb, 'family').get('vault'), null);
    // A whole vault through the library, with the token.
    const remote = openRelayRemote(`${gated.url}/family`, { inviteToken: 'let-me-in' });
    const { vault } = await Vault.create({ store: openMemoryStore(), remote, remoteUrl: remote.url, deviceName: 'laptop' });
    await vault.put('notes', 'n1', { title: 'hi' });
    assert.equal((await vault.sync()).pushed, 1);
    await vault.close();
    assert.equal((await call('PUT', `${gated.url}/v1/vaults/other/objects/vault`, { body: 'not a header' })).status, 403, 'the token is checked first');
    assert.equal((await call('PUT', `${relay.url}/v1/vaults/${fresh()}/objects/vault`, { body: 'not a header' })).code, ErrorCode.IntegrityCorrupt);
    const husk = fresh();
    await operatorRemote(db, husk).put('heads/leftover', Uint8Array.of(1));
    await assert.rejects(createTestVault(relay.url, husk), isCode(ErrorCode.RemoteInUse));
  });

  test('a vault made anew under a name voids the old vault’s tokens', async () => {
    const name = fresh();
    const old = await createTestVault(relay.url, name);
    const token = await tokenOf(old);
    for (const info of await operatorRemote(db, name).list('')) await db.delete(name, info.key);
    const fresher = await createTestVault(relay.url, name);
    assert.equal((await call('GET', objects(fresher, 'vault'), { token })).status, 401);
    assert.equal((await call('GET', route(fresher, 'list'), { token: await tokenOf(fresher) })).status, 200);
  });

  test('the pairing mailbox: a device not yet registered may answer an offer once, and do nothing else', async () => {
    const tv = await createTestVault(relay.url, fresh());
    const inviter = tv.remote();
    const box = 'pairing/0123456789ab';
    const anon = (method: string, key: string, body?: string | Uint8Array) =>
      call(method, objects(tv, key), { ...(body !== undefined ? { body } : {}), headers: { 'if-none-match': '*' } });
    assert.equal((await anon('PUT', `${box}/join`, 'x')).status, 403, 'no offer to answer');
    await inviter.put(`${box}/offer`, Uint8Array.of(1));
    assert.equal((await anon('GET', `${box}/offer`)).status, 200);
    assert.equal((await anon('PUT', `${box}/join`, new Uint8Array(17 * 1024))).status, 413);
    assert.equal((await anon('PUT', `${box}/join`, 'answer')).status, 204);
    assert.equal((await anon('PUT', `${box}/join`, 'another')).status, 412, 'one answer per offer');
    for (const key of [`${box}/offer`, `${box}/done`]) assert.equal((await anon('PUT', key, 'x')).status, 401, key);
    assert.equal((await anon('DELETE', `${box}/offer`)).status, 401);
    assert.equal((await call('GET', route(tv, 'list?prefix=pairing/'))).status, 401, 'mailboxes cannot be listed without a token');
    assert.equal((await anon('DELETE', `${box}/join`)).status, 204);
    assert.deepEqual(await inviter.get(`${box}/join`), null);
    await inviter.close();
  });
});

describe('relay auth: limits', () => {
  test('rate limits per device and per address: 429 with retry-after; clients wait and retry', async () => {
    const { relay: tight } = await relayWith({ rateLimit: { device: { perSecond: 4, burst: 4 }, anonymous: { perSecond: 1, burst: 12 } } });
    const tv = await createTestVault(tight.url, 'limited', { devices: 2 });
    const [t0, t1] = [await tokenOf(tv, 0), await tokenOf(tv, 1)];
    const r = tv.remote(0, { retry: { baseDelayMs: 200, maxDelayMs: 1000 } });
    await r.head('vault'); // signs in while the address still has requests left
    let served = 0;
    let limited = await call('GET', route(tv, 'list'), { token: t0 });
    for (; limited.status === 200; served++) limited = await call('GET', route(tv, 'list'), { token: t0 });
    assert.ok(served === 3 || served === 4, `a burst of 4, one spent signing in (and at most one refilled): ${served}`);
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.equal((await call('GET', route(tv, 'list'), { token: t1 })).status, 200, 'another device has its own bucket');
    let anon: number;
    let n = 0;
    while ((anon = (await call('GET', objects(tv, 'vault'))).status) === 200) assert.ok(++n < 20, 'the address runs out');
    assert.equal(anon, 429);
    // The remote waits and retries instead of failing.
    const started = Date.now();
    for (let i = 0; i < 6; i++) await r.head('vault');
    assert.ok(Date.now() - started >= 200, 'it was slowed down');
    await r.close();
  });

  test('quota: stored bytes per vault; past it 507 KITH_QUOTA_EXCEEDED at once; overwrites and deletes free space', async () => {
    const { relay: small } = await relayWith({ quotaBytes: 20_000 });
    const tv = await createTestVault(small.url, 'q');
    const r = tv.remote(0, { retry: { maxAttempts: 6, baseDelayMs: 500 } });
    await r.put('blobs/chunks/a', new Uint8Array(10_000));
    await r.put('blobs/chunks/b', new Uint8Array(9_000));
    const started = Date.now();
    await assert.rejects(
      r.put('blobs/chunks/c', new Uint8Array(1_000)),
      (e: unknown) => isCode(ErrorCode.QuotaExceeded)(e) && /quota/.test((e as Error).message) && /507/.test((e as Error).message),
    );
    assert.ok(Date.now() - started < 400, 'not retried');
    assert.equal(await r.head('blobs/chunks/c'), null);
    await r.put('blobs/chunks/a', new Uint8Array(5_000)); // an overwrite counts its difference
    await r.put('blobs/chunks/c', new Uint8Array(1_000));
    await r.delete('blobs/chunks/b');
    await r.put('blobs/chunks/d', new Uint8Array(8_000));
    const other = await createTestVault(small.url, 'q2');
    const r2 = other.remote();
    await r2.put('blobs/chunks/a', new Uint8Array(15_000));
    await Promise.all([r.close(), r2.close()]);
  });
});

describe('relay auth: across processes', () => {
  test('processes sharing a secret and storage accept each other’s tokens, and a revocation through one counts at once in the other', async () => {
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const a = await relayWith({ authSecret: secret });
    const b = await relayWith({ authSecret: secret }, a.dir);
    const tv = await createTestVault(a.relay.url, 'shared', { devices: 2 });
    const [t0, t1] = [await tokenOf(tv, 0), await tokenOf(tv, 1)];
    const atB = (tail: string, token: string) => call('GET', `${b.relay.url}/v1/vaults/shared/${tail}`, { token });
    assert.equal((await atB('list', t1)).status, 200);
    await tv.revoke(1); // through process a
    assert.equal((await atB('list', t1)).code, ErrorCode.Revoked);
    assert.equal((await atB('list', t0)).status, 200);
    // Another secret: the token is void there, and the client signs in again by itself.
    const c = await relayWith({}, a.dir);
    assert.equal((await call('GET', `${c.relay.url}/v1/vaults/shared/list`, { token: t0 })).status, 401);
    const r = openRelayRemote(`${c.relay.url}/shared`);
    r.useDeviceKey(tv.key(0));
    assert.deepEqual((await r.list('registry/')).length, 3);
    await r.close();
  });

  test('the watch socket: the relay selects kith.v1 and never echoes the token', async () => {
    const tv = await createTestVault(relay.url, fresh());
    const token = await tokenOf(tv);
    const ws = new WebSocket(route(tv, 'watch').replace('http', 'ws'), ['kith.v1', `kith.bearer.${token}`]);
    const headers = await new Promise<Record<string, string | string[] | undefined>>((resolve, reject) => {
      ws.once('upgrade', (res) => resolve(res.headers));
      ws.once('error', reject);
    });
    assert.equal(headers['sec-websocket-protocol'], 'kith.v1');
    assert.equal(ws.protocol, 'kith.v1');
    ws.close();
  });
});
