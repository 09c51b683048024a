import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { parseRelayUrl, relayDeviceAuth, type WebSocketLike } from '@kith/relay';
import { PUSH_BODY_MAX, type PushMessage } from '@kith/relay/protocol';
import { createTestVault, startTestRelay, type TestRelay, type TestVault } from './testing/test-vaults.js';
import { PushHub } from './push-hub.js';
import { FakeSocket, seedPushedHeads, until } from './push-hub.test.support.js';

let t: TestRelay;
let names = 0;
const fresh = (): string => `pb${++names}`;

before(async () => {
  t = await startTestRelay();
});
after(async () => {
  await t.stop();
});

/** A raw watch socket of device `i` (protocol as a client of any version speaks it); `watch` is the watch request it sends. */
async function rawSocket(tv: TestVault, i: number, watch: object): Promise<{ messages: PushMessage[]; close: () => void }> {
  const token = (await relayDeviceAuth(parseRelayUrl(tv.url), tv.key(i)).headers())['authorization']!.replace('Bearer ', '');
  const url = `${tv.url.replace(/^http/, 'ws').replace(/\/([^/]+)$/, '/v1/vaults/$1')}/watch`;
  const ws = new WebSocket(url, ['kith.v1', `kith.bearer.${token}`]);
  const messages: PushMessage[] = [];
  ws.on('message', (d: Buffer) => {
    const msg = JSON.parse(d.toString('utf8')) as PushMessage;
    messages.push(msg);
    if (msg.type === 'hello') ws.send(JSON.stringify({ type: 'watch', ...watch }));
  });
  await until(() => messages.some((m) => m.type === 'watching'), 'watching');
  return { messages, close: () => ws.close() };
}

const changes = (messages: PushMessage[]): PushMessage[] => messages.filter((m) => m.type === 'changed');

describe('push bodies (docs/RELAY.md "Push")', () => {
  test('a socket that asks for bodies gets a small write\u2019s etag and bytes with its notice; one that does not (an older client), the key only', async () => {
    const tv = await createTestVault(t.relay.url, fresh(), { devices: 3 });
    const asks = await rawSocket(tv, 1, { prefixes: ['heads/', 'segments/'], bodies: true });
    const old = await rawSocket(tv, 2, { prefixes: ['heads/', 'segments/'] });
    assert.deepEqual(
      asks.messages.find((m) => m.type === 'watching'),
      { type: 'watching', prefixes: ['heads/', 'segments/'], bodies: true },
    );
    assert.deepEqual(
      old.messages.find((m) => m.type === 'watching'),
      { type: 'watching', prefixes: ['heads/', 'segments/'] },
    );
    const writer = tv.remote(0);
    const head = new TextEncoder().encode('{"seq":1}');
    await writer.put('heads/a', head);
    await writer.put('segments/a/1', new Uint8Array(PUSH_BODY_MAX + 1).fill(7));
    await writer.put('segments/a/2', new Uint8Array(PUSH_BODY_MAX).fill(8));
    await writer.delete('heads/a');
    await until(() => changes(asks.messages).length === 4 && changes(old.messages).length === 4, 'four notices each');
    const etagOf = async (bytes: Uint8Array): Promise<string> => {
      await writer.put('probe/x', bytes);
      return (await writer.head('probe/x'))!.etag;
    };
    assert.deepEqual(changes(asks.messages), [
      { type: 'changed', key: 'heads/a', etag: await etagOf(head), body: Buffer.from(head).toString('base64url') },
      { type: 'changed', key: 'segments/a/1' },
      {
        type: 'changed',
        key: 'segments/a/2',
        etag: await etagOf(new Uint8Array(PUSH_BODY_MAX).fill(8)),
        body: Buffer.alloc(PUSH_BODY_MAX, 8).toString('base64url'),
      },
      { type: 'changed', key: 'heads/a' },
    ]);
    assert.deepEqual(
      changes(old.messages),
      ['heads/a', 'segments/a/1', 'segments/a/2', 'heads/a'].map((key) => ({ type: 'changed', key })),
    );
    asks.close();
    old.close();
    await writer.close();
  });

  test('a told client lists heads/ and reads the heads that moved and the segments they name without a request while its pushed view holds, its own head writes included', async () => {
    const tv = await createTestVault(t.relay.url, fresh(), { devices: 2 });
    const writer = tv.remote(0);
    const reader = tv.remote(1, { pollMs: 3_600_000 });
    await writer.put('heads/w', Uint8Array.of(1));
    let told = 0;
    const stop = reader.watch('heads/', () => void told++);
    await seedPushedHeads(reader);
    const before = { ...reader.stats };
    for (let i = 2; i <= 4; i++) {
      await writer.put(`segments/w/${i}`, new Uint8Array(1024).fill(i), { ifAbsent: true });
      await writer.put('heads/w', Uint8Array.of(i));
      await until(() => told === i - 1, `notice ${i}`);
      const [listed] = await reader.list('heads/');
      assert.deepEqual(await reader.get('heads/w', { listed: listed!.etag }), Uint8Array.of(i));
      assert.deepEqual(await reader.get(`segments/w/${i}`), new Uint8Array(1024).fill(i));
      assert.deepEqual(listed, (await writer.list('heads/'))[0], 'what the relay lists');
    }
    assert.equal(reader.stats.lists, before.lists, 'no listing sent');
    assert.equal(reader.stats.gets, before.gets, 'no read sent');
    // Pushed bytes answer one read: the next one asks the relay.
    assert.deepEqual(await reader.get('segments/w/4'), new Uint8Array(1024).fill(4));
    assert.equal(reader.stats.gets, before.gets + 1);
    // A pull reads segments in a batch: the pushed ones are not asked for.
    await writer.put('segments/w/5', new Uint8Array(1024).fill(5), { ifAbsent: true });
    await writer.put('heads/w', Uint8Array.of(5));
    await until(() => told === 4, 'notice 5');
    assert.deepEqual(await reader.getMany(['segments/w/5']), new Map([['segments/w/5', new Uint8Array(1024).fill(5)]]));
    assert.equal(reader.stats.gets, before.gets + 1, 'no request');
    const batch = await reader.getMany(['segments/w/5', 'segments/w/3', 'segments/w/9']);
    assert.deepEqual(
      [...batch],
      [
        ['segments/w/5', new Uint8Array(1024).fill(5)],
        ['segments/w/3', new Uint8Array(1024).fill(3)],
        ['segments/w/9', null],
      ],
    );
    assert.equal(reader.stats.gets, before.gets + 2, 'once taken, asked for');
    // Its own write is not pushed to it; the relay's answer names the etag, so the view takes it in.
    await reader.put('heads/r', Uint8Array.of(9));
    const mine = await reader.list('heads/');
    assert.deepEqual(mine, await writer.list('heads/'));
    assert.deepEqual(await reader.get('heads/r', { listed: mine[0]!.etag }), Uint8Array.of(9));
    assert.equal(reader.stats.lists, before.lists, 'no listing sent');
    stop();
    await Promise.all([writer.close(), reader.close()]);
  });

  test('against a relay that does not confirm bodies (an older one), the client lists and reads from the relay as before', async () => {
    const tv = await createTestVault(t.relay.url, fresh(), { devices: 2 });
    const writer = tv.remote(0);
    // The relay sees a watch request without `bodies`, as an older relay would read one: it confirms none.
    let watching = false;
    const withoutBodies = (url: string, protocols?: string[]): WebSocketLike => {
      const ws = new WebSocket(url, protocols);
      ws.on('message', (d: Buffer) => void (watching ||= (JSON.parse(d.toString('utf8')) as PushMessage).type === 'watching'));
      const send = ws.send.bind(ws);
      ws.send = ((data: string) => send(JSON.stringify({ ...(JSON.parse(data) as object), bodies: undefined }))) as typeof ws.send;
      return ws as unknown as WebSocketLike;
    };
    const reader = tv.remote(1, { pollMs: 3_600_000, webSocket: withoutBodies });
    await writer.put('heads/w', Uint8Array.of(1));
    let told = 0;
    const stop = reader.watch('heads/', () => void told++);
    await until(() => watching, 'the relay answered the watch request');
    await reader.list('heads/');
    const lists = reader.stats.lists;
    await writer.put('heads/w', Uint8Array.of(2));
    await until(() => told === 1, 'notice');
    const [listed] = await reader.list('heads/');
    assert.deepEqual(await reader.get('heads/w', { listed: listed!.etag }), Uint8Array.of(2));
    assert.equal(reader.stats.lists, lists + 1, 'listed from the relay');
    stop();
    await Promise.all([writer.close(), reader.close()]);
  });
});

describe('push hub: bodies and registry changes', () => {
  test('while a registry change is being looked at, notices go without bodies; once it settled, with them again', async () => {
    const hub = new PushHub();
    const s = new FakeSocket();
    hub.add('v', s as unknown as WebSocket);
    s.emit('message', Buffer.from(JSON.stringify({ type: 'watch', prefixes: ['heads/'], bodies: true })), false);
    let settle!: () => void;
    hub.holdBodies('v', new Promise<void>((r) => (settle = r)));
    hub.changed('v', 'heads/a', undefined, Uint8Array.of(1));
    hub.changed('other', 'heads/a', undefined, Uint8Array.of(1));
    settle();
    await new Promise((r) => setImmediate(r));
    hub.changed('v', 'heads/a', undefined, Uint8Array.of(2));
    const told = s.sent.filter((m) => m.type === 'changed');
    assert.deepEqual(told[0], { type: 'changed', key: 'heads/a' }, 'held: the key only');
    assert.equal(told.length, 2);
    assert.equal((told[1] as { body?: string }).body, Buffer.of(2).toString('base64url'), 'settled: with the bytes');
  });
});
