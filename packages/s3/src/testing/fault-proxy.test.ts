/**
 * The fault proxy in front of any HTTP server (the soak puts it in front of
 * relays too): a duplicated request reaches the server twice and the client
 * once; an injected status carries the body the caller chose.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { startFaultProxy } from './fault-proxy.js';

test('duplicate delivers a request twice and answers once; errorBody shapes injected errors', async () => {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${body}`);
      res.end(`answer ${seen.length}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const proxy = await startFaultProxy(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, {
    errorBody: (status) => ({ type: 'application/json', body: JSON.stringify({ error: status }) }),
  });
  try {
    proxy.setFaults(({ n }) => (n === 1 ? { kind: 'duplicate' } : { kind: 'status', status: 503 }));
    const first = await fetch(`${proxy.url}/x`, { method: 'PUT', body: 'hello' });
    assert.equal(await first.text(), 'answer 2');
    assert.deepEqual(seen, ['PUT /x hello', 'PUT /x hello']);
    const second = await fetch(`${proxy.url}/y`);
    assert.equal(second.status, 503);
    assert.equal(second.headers.get('content-type'), 'application/json');
    assert.deepEqual(await second.json(), { error: 503 });
    assert.equal(seen.length, 2);
    assert.equal(proxy.counts.faults, 2);
  } finally {
    await proxy.stop();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
