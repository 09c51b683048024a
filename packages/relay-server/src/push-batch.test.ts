import { after, before, describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import type { WebSocketLike } from '@kith/relay';
import { PUSH_LAZY_MS, type PushMessage } from '@kith/relay/protocol';
import { createTestVault, startTestRelay, type TestRelay } from './testing/test-vaults.js';
import { PushHub } from './push-hub.js';
import { FakeSocket, seedPushedHeads, until } from './push-hub.test.support.js';

const b64 = (...bytes: number[]): string => Buffer.from(bytes).toString('base64url');

describe('push hub: batch frames (docs/RELAY.md "Push")', () => {
  test('a socket that reads batches gets its lazy notices in the frame of its next other notice, in order; one that does not (an older client), each at once', () => {
    const hub = new PushHub();
    const [batching, old] = [new FakeSocket(), new FakeSocket()];
    hub.add('v', batching as unknown as WebSocket);
    hub.add('v', old as unknown as WebSocket);
    batching.watch({ prefixes: ['heads/', 'segments/'], bodies: true, batch: true, lazy: ['segments/', 'blobs/'] });
    old.watch({ prefixes: ['heads/', 'segments/'], bodies: true, lazy: ['segments/'] });
    assert.deepEqual(batching.sent.at(-1), { type: 'watching', prefixes: ['heads/', 'segments/'], bodies: true, batch: true, lazy: ['segments/'] });
    assert.deepEqual(old.sent.at(-1), { type: 'watching', prefixes: ['heads/', 'segments/'], bodies: true });
    hub.changed('v', 'segments/a/1', undefined, Uint8Array.of(1));
    hub.changed('v', 'segments/a/2', undefined);
    assert.equal(batching.sent.length, 2, 'lazy notices wait');
    assert.equal(old.sent.length, 4, 'an older client is told at once');
    hub.changed('v', 'heads/a', undefined, Uint8Array.of(2));
    const told = [
      { type: 'changed', key: 'segments/a/1', etag: (old.sent[2] as { etag: string }).etag, body: b64(1) },
      { type: 'changed', key: 'segments/a/2' },
      { type: 'changed', key: 'heads/a', etag: (old.sent[4] as { etag: string }).etag, body: b64(2) },
    ];
    assert.deepEqual(batching.sent.slice(2), [{ type: 'batch', changes: told }], 'sent with the head, before the writer is answered');
    assert.deepEqual(old.sent.slice(2), told);
    // A notice with none waiting goes as itself, at once.
    hub.changed('v', 'heads/b', undefined);
    assert.deepEqual(batching.sent.at(-1), { type: 'changed', key: 'heads/b' });
  });

  test('a lazy notice that no other follows goes alone after PUSH_LAZY_MS; one to a socket that closed meanwhile, nowhere', () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const hub = new PushHub();
      const [s, gone] = [new FakeSocket(), new FakeSocket()];
      hub.add('v', s as unknown as WebSocket);
      hub.add('v', gone as unknown as WebSocket);
      for (const x of [s, gone]) x.watch({ prefixes: ['segments/'], batch: true, lazy: ['segments/'] });
      hub.changed('v', 'segments/a/1', undefined);
      gone.close();
      mock.timers.tick(PUSH_LAZY_MS - 1);
      assert.equal(s.sent.length, 2);
      mock.timers.tick(1);
      assert.deepEqual(s.sent.at(-1), { type: 'changed', key: 'segments/a/1' });
      assert.equal(gone.sent.length, 2);
      assert.equal(hub.size, 1);
      hub.closeAll();
    } finally {
      mock.timers.reset();
    }
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

  test('a notice queued before a registry change was noticed goes without its bytes while the change is looked at', () => {
    const hub = new PushHub();
    const s = new FakeSocket();
    hub.add('v', s as unknown as WebSocket);
    s.watch({ prefixes: ['heads/', 'segments/'], bodies: true, batch: true, lazy: ['segments/'] });
    hub.changed('v', 'segments/a/1', undefined, Uint8Array.of(1));
    hub.holdBodies('v', new Promise(() => {}));
    hub.changed('v', 'heads/a', undefined, Uint8Array.of(2));
    assert.deepEqual(s.sent.at(-1), {
      type: 'batch',
      changes: [
        { type: 'changed', key: 'segments/a/1' },
        { type: 'changed', key: 'heads/a' },
      ],
    });
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
        : 'the client makes segments lazy: their notices come with the head that names them, in one frame, and their bytes answer its reads',
      async () => {
        const tv = await createTestVault(t.relay.url, `pbatch${strip ? 'old' : 'new'}`, { devices: 2 });
        const writer = tv.remote(0);
        const frames: PushMessage[] = [];
        const reader = tv.remote(1, { pollMs: 3_600_000, webSocket: recording(frames, strip) });
        let told = 0;
        const stop = reader.watch('heads/', () => void told++);
        // Once bodies are granted the client watches segments/ too (for their bytes alone).
        await until(() => frames.some((f) => f.type === 'watching' && f.prefixes.includes('segments/')), 'watching segments/');
        const watching = frames.filter((f) => f.type === 'watching').at(-1);
        assert.deepEqual(watching && 'lazy' in watching ? watching.lazy : undefined, strip ? undefined : ['segments/']);
        const keys = [1, 2, 3].map((i) => `segments/w/${i}`);
        for (const [i, k] of keys.entries()) await writer.put(k, new Uint8Array(64).fill(i), { ifAbsent: true });
        await writer.put('heads/w', Uint8Array.of(1));
        await until(() => told === 1, 'told of the head');
        const kinds = frames.filter((f) => f.type === 'changed' || f.type === 'batch').map((f) => f.type);
        assert.deepEqual(kinds, strip ? ['changed', 'changed', 'changed', 'changed'] : ['batch']);
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
