import { after, before, describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import type { WebSocketLike } from '@kith/relay';
import type { PushMessage } from '@kith/relay/protocol';
import { createTestVault, startTestRelay, type TestRelay } from './testing/test-vaults.js';
import { PushHub } from './push-hub.js';
import { FakeSocket, seedPushedHeads, until } from './push-hub.test.support.js';

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
const b64 = (...bytes: number[]): string => Buffer.from(bytes).toString('base64url');

describe('push hub: batch frames (docs/RELAY.md "Push")', () => {
  test('a socket that reads batches gets the notices of one turn in one frame, in order; one that does not (an older client), a frame per notice', async () => {
    const hub = new PushHub();
    const [batching, old] = [new FakeSocket(), new FakeSocket()];
    hub.add('v', batching as unknown as WebSocket);
    hub.add('v', old as unknown as WebSocket);
    batching.watch({ prefixes: ['heads/', 'segments/'], bodies: true, batch: true });
    old.watch({ prefixes: ['heads/', 'segments/'], bodies: true });
    assert.deepEqual(batching.sent.at(-1), { type: 'watching', prefixes: ['heads/', 'segments/'], bodies: true, batch: true });
    assert.deepEqual(old.sent.at(-1), { type: 'watching', prefixes: ['heads/', 'segments/'], bodies: true });
    hub.changed('v', 'segments/a/1', undefined, Uint8Array.of(1));
    hub.changed('v', 'heads/a', undefined, Uint8Array.of(2));
    hub.changed('v', 'blobs/x', undefined, Uint8Array.of(3));
    hub.changed('v', 'heads/b', undefined);
    assert.equal(batching.sent.length, 2, 'nothing sent before the turn ends');
    await turn();
    const told = [
      { type: 'changed', key: 'segments/a/1', etag: (old.sent[2] as { etag: string }).etag, body: b64(1) },
      { type: 'changed', key: 'heads/a', etag: (old.sent[3] as { etag: string }).etag, body: b64(2) },
      { type: 'changed', key: 'heads/b' },
    ];
    assert.deepEqual(batching.sent.slice(2), [{ type: 'batch', changes: told }]);
    assert.deepEqual(old.sent.slice(2), told);
    // A lone notice goes as itself.
    hub.changed('v', 'heads/c', undefined);
    await turn();
    assert.deepEqual(batching.sent.at(-1), { type: 'changed', key: 'heads/c' });
  });

  test('with a window, notices wait for it; a new watch request first sends what was told under the last one', async () => {
    const hub = new PushHub(60_000);
    const s = new FakeSocket();
    hub.add('v', s as unknown as WebSocket);
    s.watch({ prefixes: ['heads/'], batch: true });
    hub.changed('v', 'heads/a', undefined);
    hub.changed('v', 'heads/b', undefined);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(s.sent.length, 2, 'held for the window');
    s.watch({ prefixes: ['segments/'], batch: true });
    assert.deepEqual(s.sent.slice(2), [
      {
        type: 'batch',
        changes: [
          { type: 'changed', key: 'heads/a' },
          { type: 'changed', key: 'heads/b' },
        ],
      },
      { type: 'watching', prefixes: ['segments/'], batch: true },
    ]);
    hub.closeAll();
  });

  test('a notice queued before a registry change was noticed goes without its bytes while the change is looked at', async () => {
    const hub = new PushHub();
    const s = new FakeSocket();
    hub.add('v', s as unknown as WebSocket);
    s.watch({ prefixes: ['heads/'], bodies: true, batch: true });
    hub.changed('v', 'heads/a', undefined, Uint8Array.of(1));
    hub.holdBodies('v', new Promise(() => {}));
    await turn();
    assert.deepEqual(s.sent.at(-1), { type: 'changed', key: 'heads/a' });
  });

  test('a socket that closed with notices queued is sent nothing', async () => {
    const hub = new PushHub();
    const s = new FakeSocket();
    hub.add('v', s as unknown as WebSocket);
    s.watch({ prefixes: ['heads/'], batch: true });
    hub.changed('v', 'heads/a', undefined);
    s.close();
    await turn();
    assert.equal(s.sent.length, 2);
    assert.equal(hub.size, 0);
  });
});

describe('relay client and batch frames', () => {
  let t: TestRelay;
  before(async () => {
    t = await startTestRelay();
  });
  after(async () => {
    await t.stop();
  });

  /** A client socket that records the frames it gets; `strip` removes `batch` from its watch requests, as a relay older than batches reads them. */
  const recording =
    (frames: PushMessage[], strip: boolean) =>
    (url: string, protocols?: string[]): WebSocketLike => {
      const ws = new WebSocket(url, protocols);
      ws.on('message', (d: Buffer) => void frames.push(JSON.parse(d.toString('utf8')) as PushMessage));
      if (strip) {
        const send = ws.send.bind(ws);
        ws.send = ((data: string) => send(JSON.stringify({ ...(JSON.parse(data) as object), batch: undefined }))) as typeof ws.send;
      }
      return ws as unknown as WebSocketLike;
    };

  for (const strip of [false, true]) {
    test(
      strip
        ? 'against a relay that does not confirm batches (an older one), the client is told of every change, a frame each'
        : 'the client asks for batches and is told of every change a batch frame brings, with its bytes',
      async () => {
        const tv = await createTestVault(t.relay.url, `pbatch${strip ? 'old' : 'new'}`, { devices: 2 });
        const writer = tv.remote(0);
        const frames: PushMessage[] = [];
        const reader = tv.remote(1, { pollMs: 3_600_000, webSocket: recording(frames, strip) });
        const told: string[] = [];
        const stop = reader.watch('segments/', () => void told.push('segments/'));
        await until(() => frames.some((f) => f.type === 'watching'), 'watching');
        assert.equal(
          frames.some((f) => f.type === 'watching' && f.batch === true),
          !strip,
        );
        // Bursts written at once, which the relay commits together and tells of in one turn (until a batch came, at most 20).
        const keys: string[] = [];
        const kinds = (): string[] => frames.filter((f) => f.type === 'changed' || f.type === 'batch').map((f) => f.type);
        for (let round = 0; round < (strip ? 1 : 20) && !kinds().includes('batch'); round++) {
          const burst = [1, 2, 3, 4, 5].map((i) => `segments/w/${round}-${i}`);
          keys.push(...burst);
          await Promise.all(burst.map((k) => writer.put(k, new Uint8Array(64).fill(keys.indexOf(k)))));
          await until(() => told.length === keys.length, 'told of every change');
        }
        if (strip) assert.deepEqual(kinds(), ['changed', 'changed', 'changed', 'changed', 'changed']);
        else assert.ok(kinds().includes('batch'), `a batch frame came (${kinds().join(', ')})`);
        // The bytes a notice (alone or batched) brought answer the read: no request.
        const gets = reader.stats.gets;
        for (const [i, k] of keys.entries()) assert.deepEqual(await reader.get(k), new Uint8Array(64).fill(i));
        assert.equal(reader.stats.gets, gets, 'no read sent');
        stop();
        await Promise.all([writer.close(), reader.close()]);
      },
    );
  }

  test('a told client\u2019s pushed view of heads/ answers listings for 30 s after the listing that seeded it, then lists again', async () => {
    const tv = await createTestVault(t.relay.url, 'pbatchtrust', { devices: 2 });
    const writer = tv.remote(0);
    const reader = tv.remote(1, { pollMs: 3_600_000 });
    await writer.put('heads/w', Uint8Array.of(1));
    let told = 0;
    const stop = reader.watch('heads/', () => void told++);
    await seedPushedHeads(reader);
    const lists = reader.stats.lists;
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    try {
      mock.timers.tick(20_000);
      await writer.put('heads/w', Uint8Array.of(2));
      await until(() => told === 1, 'notice');
      assert.deepEqual(await reader.list('heads/'), await writer.list('heads/'), '20 s on, the view answers, moved by the notice');
      assert.equal(reader.stats.lists, lists, 'no listing sent');
      mock.timers.tick(11_000);
      await reader.list('heads/');
      assert.equal(reader.stats.lists, lists + 1, 'past 30 s it lists');
    } finally {
      mock.timers.reset();
    }
    stop();
    await Promise.all([writer.close(), reader.close()]);
  });
});
