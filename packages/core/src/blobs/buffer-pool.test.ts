import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BufferPool } from './buffer-pool.js';

test('buffer pool: a given-back buffer is reused for a chunk that fits; foreign views and double gives are ignored; at most `keep` idle', () => {
  const pool = new BufferPool(2, 1024);
  const a = pool.take(1000);
  assert.equal(a.length, 1000);
  assert.equal(a.buffer.byteLength, 1024);
  pool.give(a);
  pool.give(a);
  const b = pool.take(10);
  assert.equal(b.buffer, a.buffer, 'reused');
  assert.notEqual(pool.take(10).buffer, a.buffer, 'given once, taken once');
  const big = pool.take(3000);
  assert.equal(big.buffer.byteLength, 3072);
  pool.give(new Uint8Array(4096));
  assert.equal(pool.take(4000).buffer.byteLength, 4096, "a caller's buffer never enters the pool");
  const [x, y, z] = [pool.take(1), pool.take(1), pool.take(2048)];
  pool.give(x);
  pool.give(y);
  pool.give(z);
  assert.equal(pool.take(2000).buffer, z.buffer, 'when full, the larger buffer is kept');
  assert.equal(pool.take(1).buffer, y.buffer);
  assert.notEqual(pool.take(1).buffer, x.buffer);
});
