import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { openRelayRemote } from '../index.js';

test('closing a remote while its push socket is still connecting throws nothing', async () => {
  // A server that accepts TCP and never answers the upgrade: the socket stays CONNECTING.
  const held: Socket[] = [];
  const server = createServer((s) => void held.push(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown): void => void uncaught.push(e);
  process.on('uncaughtException', onUncaught);
  try {
    const remote = openRelayRemote(`http://127.0.0.1:${port}/v`, { pollMs: 60_000 });
    remote.watch('heads/', () => {});
    for (let i = 0; held.length === 0 && i < 200; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(held.length, 1, 'the socket reached the server');
    await remote.close();
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(uncaught, []);
  } finally {
    process.off('uncaughtException', onUncaught);
    for (const s of held) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});
