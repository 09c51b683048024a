import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, KithError } from '@kith/core';
import { countingRemote } from '@kith/core/adapter';
import { runRemoteConformance } from '@kith/core/testing';
import { openS3Remote } from './index.js';
import { randomFaults, startFaultProxy, startS3rver, type FaultProxy, type S3rverProcess } from './testing/index.js';

const is = (code: ErrorCode) => (e: unknown) => KithError.is(e, code);
let s3: S3rverProcess;
let proxy: FaultProxy;

before(async () => {
  s3 = await startS3rver();
  proxy = await startFaultProxy(s3.endpoint);
});
after(async () => {
  await proxy.stop();
  await s3.stop();
});

/** A fresh bucket with one object, written straight to the server (not through the proxy). */
async function bucketHolding(key: string, bytes: Uint8Array): Promise<string> {
  const bucket = await s3.bucket();
  const direct = await openS3Remote(s3.url(bucket));
  await direct.put(key, bytes);
  await direct.close();
  return bucket;
}

runRemoteConformance(
  's3 (s3rver process)',
  async () => {
    const remote = await openS3Remote(s3.url(await s3.bucket(), 'vault'));
    return { remote, cleanup: () => remote.close() };
  },
  { mixedSeparatorOrder: false },
);

let seed = 1;
runRemoteConformance(
  's3 through a faulty network (drops, 500/503 bursts, slow and truncated responses)',
  async () => {
    proxy.setFaults(randomFaults(seed++ * 7919, 0.15));
    const remote = await openS3Remote(s3.url(await s3.bucket(), 'p', proxy.url), { retry: { baseDelayMs: 5, maxDelayMs: 50, maxAttempts: 12 } });
    return {
      remote,
      cleanup: async () => {
        proxy.setFaults(undefined);
        await remote.close();
      },
    };
  },
  { bigObjects: false, mixedSeparatorOrder: false },
);

describe('s3 remote specifics', () => {
  test('a missing bucket is KITH_REMOTE_NOT_FOUND; a refused credential is KITH_REMOTE_AUTH; neither is retried', async () => {
    const missing = countingRemote(await openS3Remote(s3.url('no-such-bucket-here')));
    await assert.rejects(missing.list('heads/'), (e: unknown) => is(ErrorCode.RemoteNotFound)(e) && /create the bucket/.test(e.hint ?? ''));
    assert.equal(missing.stats.lists, 1, 'not retried');
    await missing.close();
    proxy.resetCounts();
    proxy.setFaults(() => ({ kind: 'status', status: 403 }));
    const denied = await openS3Remote(s3.url(await s3.bucket(), '', proxy.url));
    await assert.rejects(denied.get('vault'), (e: unknown) => is(ErrorCode.RemoteAuth)(e) && /AWS_ACCESS_KEY_ID/.test(e.hint ?? ''));
    assert.equal(proxy.counts.total, 1, 'a 403 is not retried');
    proxy.setFaults(undefined);
    await denied.close();
  });

  test('a server that keeps failing gets a bounded number of attempts, then one clear error', async () => {
    proxy.resetCounts();
    proxy.setFaults(() => ({ kind: 'status', status: 503 }));
    const r = countingRemote(await openS3Remote(s3.url(await s3.bucket(), '', proxy.url), { retry: { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 20 } }));
    await assert.rejects(r.get('heads/x'), (e: unknown) => is(ErrorCode.RemoteUnavailable)(e) && /after 4 attempts/.test((e as Error).message));
    assert.equal(proxy.counts.total, 4);
    assert.equal(r.stats.gets, 4, 'stats count every attempt');
    proxy.setFaults(undefined);
    await r.close();
  });

  test('cancellation: an aborted call stops promptly with KITH_ABORTED', async () => {
    proxy.setFaults(() => ({ kind: 'slow', ms: 2000 }));
    const r = await openS3Remote(s3.url(await s3.bucket(), '', proxy.url));
    const ac = new AbortController();
    const started = Date.now();
    setTimeout(() => ac.abort(), 100);
    await assert.rejects(r.list('heads/', { signal: ac.signal }), is(ErrorCode.Aborted));
    assert.ok(Date.now() - started < 1500);
    proxy.setFaults(undefined);
    await r.close();
  });

  test('put-if-absent without server support is a HEAD check (s3rver ignores If-None-Match)', async () => {
    const r = await openS3Remote(s3.url(await s3.bucket()));
    assert.equal(r.capabilities.putIfAbsent, false);
    await r.put('k/x', Uint8Array.of(1), { ifAbsent: true });
    await r.put('k/x', Uint8Array.of(2), { ifAbsent: true });
    assert.deepEqual(await r.get('k/x'), Uint8Array.of(1));
    await r.close();
  });

  test('put-if-absent with server support sends If-None-Match and takes a 412 as "exists"', async () => {
    const bucket = await s3.bucket();
    const r = await openS3Remote(s3.url(bucket, '', proxy.url), { conditionalWrites: true, retry: { baseDelayMs: 1 } });
    assert.equal(r.capabilities.putIfAbsent, true);
    proxy.resetCounts();
    proxy.setFaults(({ method }) => (method === 'PUT' ? { kind: 'status', status: 412 } : undefined));
    await r.put('k/x', Uint8Array.of(2), { ifAbsent: true }); // resolves: the object is there
    assert.deepEqual(proxy.counts.byMethod, { PUT: 1 }, 'no HEAD first, no retry');
    await assert.rejects(r.put('k/x', Uint8Array.of(3)), is(ErrorCode.RemoteUnavailable), 'a 412 on a plain put is a failure');
    proxy.setFaults(undefined);
    await r.close();
    const aws = await openS3Remote('s3://some-bucket/p');
    assert.equal(aws.capabilities.putIfAbsent, true, 'AWS itself honours If-None-Match');
    await aws.close();
  });

  test('a response that stalls past requestTimeoutMs is abandoned and retried', async () => {
    const r = countingRemote(await openS3Remote(s3.url(await s3.bucket(), '', proxy.url), { requestTimeoutMs: 200, retry: { baseDelayMs: 1 } }));
    await r.put('k/x', Uint8Array.of(7));
    let stalls = 0;
    proxy.setFaults(({ method }) => (method === 'GET' && ++stalls === 1 ? { kind: 'slow', ms: 1500 } : undefined));
    const started = Date.now();
    assert.deepEqual(await r.get('k/x'), Uint8Array.of(7));
    assert.ok(Date.now() - started < 1200, `took ${Date.now() - started} ms`);
    assert.equal(r.stats.gets, 2);
    proxy.setFaults(undefined);
    await r.close();
  });

  for (const kind of ['truncate', 'corrupt'] as const) {
    test(`a body ${kind === 'truncate' ? 'cut short' : 'altered in flight (same length)'} is never returned as the object: it is fetched again`, async () => {
      const data = new Uint8Array(200_000).map((_, i) => i % 251);
      const bucket = await bucketHolding('objs/x', data);
      let n = 0;
      proxy.setFaults(({ method }) => (method === 'GET' && n++ < 2 ? { kind } : undefined));
      const r = countingRemote(await openS3Remote(s3.url(bucket, '', proxy.url), { retry: { baseDelayMs: 1 } }));
      assert.deepEqual(await r.get('objs/x'), data);
      assert.equal(r.stats.gets, 3);
      await r.close();
      if (kind === 'corrupt') {
        // Without the ETag check the altered bytes would come back: the check is what caught them.
        n = 0;
        const unchecked = await openS3Remote(s3.url(bucket, '', proxy.url), { verifyMd5: false });
        assert.notDeepEqual(await unchecked.get('objs/x'), data);
        await unchecked.close();
      }
      proxy.setFaults(undefined);
    });
  }

  test('no retry storm: concurrent calls against a dead service share one retry budget', async () => {
    proxy.resetCounts();
    proxy.setFaults(() => ({ kind: 'status', status: 503 }));
    const r = countingRemote(
      await openS3Remote(s3.url(await s3.bucket(), '', proxy.url), { retry: { maxAttempts: 6, baseDelayMs: 1, maxDelayMs: 5, budget: 25 } }),
    );
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => r.get(`k/${i}`)));
    assert.ok(results.every((x) => x.status === 'rejected' && is(ErrorCode.RemoteUnavailable)(x.reason)));
    assert.equal(proxy.counts.total, 20 + 5, '20 first attempts and 5 retries in all, not 20 × 6');
    assert.equal(r.stats.gets, 25);
    proxy.setFaults(undefined);
    await r.close();
  });

  test('a 20 MiB object goes up in parallel multipart parts without copying, and comes back whole', async () => {
    const partSize = 5 * 1024 * 1024;
    const r = countingRemote(await openS3Remote(s3.url(await s3.bucket()), { partSize, partConcurrency: 2 }));
    const big = new Uint8Array(20 * 1024 * 1024).map((_, i) => (i * 7) % 256);
    const base = process.memoryUsage().arrayBuffers;
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers - base)), 1);
    await r.put('blobs/big', big);
    clearInterval(sampler);
    assert.ok(peak < partSize * 2, `extra memory ${(peak / 2 ** 20).toFixed(1)} MiB stays under part size × concurrency`);
    assert.equal(r.stats.puts, 1 + 4 + 1, 'create + 4 parts + complete');
    assert.equal(r.stats.bytesSent, big.length);
    const back = await r.get('blobs/big');
    assert.equal(back?.length, big.length);
    assert.ok(Buffer.from(back).equals(Buffer.from(big)));
    await r.close();
  });

  test('multipart through dropped connections and 5xx bursts completes with the right bytes', async () => {
    const bucket = await s3.bucket();
    proxy.setFaults(randomFaults(4242, 0.3, ['drop-before', 'drop-after', 'status']));
    const r = await openS3Remote(s3.url(bucket, '', proxy.url), { partSize: 5 * 1024 * 1024, retry: { baseDelayMs: 1, maxDelayMs: 10, maxAttempts: 12 } });
    const big = new Uint8Array(12 * 1024 * 1024).map((_, i) => (i * 13) % 256);
    await r.put('blobs/big', big);
    proxy.setFaults(undefined);
    assert.ok(Buffer.from((await r.get('blobs/big'))!).equals(Buffer.from(big)));
    await r.close();
  });

  test('a multipart upload that fails for good is aborted, leaving no object', async () => {
    const bucket = await s3.bucket();
    proxy.resetCounts();
    proxy.setFaults(({ method, path }) => (method === 'PUT' && path.includes('partNumber=2') ? { kind: 'status', status: 403 } : undefined));
    const r = await openS3Remote(s3.url(bucket, '', proxy.url), { partSize: 5 * 1024 * 1024, partConcurrency: 1 });
    await assert.rejects(r.put('blobs/big', new Uint8Array(11 * 1024 * 1024)), is(ErrorCode.RemoteAuth));
    assert.equal(proxy.counts.byMethod['DELETE'], 1, 'AbortMultipartUpload sent');
    assert.equal(proxy.counts.byMethod['PUT'], 2, 'part 3 never started after part 2 failed');
    proxy.setFaults(undefined);
    assert.equal(await r.head('blobs/big'), null);
    await r.close();
  });

  test('cancelling a multipart upload mid-way rejects with KITH_ABORTED and aborts the upload', async () => {
    const bucket = await s3.bucket();
    proxy.resetCounts();
    const ac = new AbortController();
    let abortedAt = 0;
    // Cancel once the first part is on its way (a fixed delay could fire before the upload exists on a loaded machine).
    proxy.setFaults(({ method, path }) => {
      if (method !== 'PUT' || !path.includes('partNumber=')) return undefined;
      if (abortedAt === 0) setTimeout(() => ((abortedAt = Date.now()), ac.abort()), 100);
      return { kind: 'slow', ms: 1000 };
    });
    const r = await openS3Remote(s3.url(bucket, '', proxy.url), { partSize: 5 * 1024 * 1024, partConcurrency: 1 });
    await assert.rejects(r.put('blobs/big', new Uint8Array(11 * 1024 * 1024), { signal: ac.signal }), is(ErrorCode.Aborted));
    assert.ok(Date.now() - abortedAt < 900, 'promptly, not after the slow part');
    assert.equal(proxy.counts.byMethod['DELETE'], 1, 'AbortMultipartUpload sent');
    proxy.setFaults(undefined);
    assert.equal(await r.head('blobs/big'), null);
    await r.close();
  });

  test('a burst of more calls than the HTTP agent has sockets: none times out while it waits its turn', async () => {
    const bucket = await bucketHolding('k', Uint8Array.of(7));
    // Every GET takes 2 s; with 50 sockets, 250 calls at once take five rounds, the last ones
    // queued for 8 s, beyond the 5 s connect limit, while connecting itself takes milliseconds.
    proxy.setFaults(({ method }) => (method === 'GET' ? { kind: 'slow', ms: 2000 } : undefined));
    const r = await openS3Remote(s3.url(bucket, '', proxy.url), {
      retry: { maxAttempts: 1 },
      client: { requestHandler: { connectionTimeout: 5000, socketTimeout: 120_000 } },
    });
    try {
      const got = await Promise.allSettled(Array.from({ length: 250 }, () => r.get('k')));
      const failed = got.flatMap((g) => (g.status === 'rejected' ? [g.reason as unknown] : []));
      assert.equal(failed.length, 0, `${failed.length} failed, first: ${String(failed[0])}`);
      assert.ok(got.every((g) => g.status === 'fulfilled' && g.value?.[0] === 7));
    } finally {
      proxy.setFaults(undefined);
      await r.close();
    }
  });

  test('requests per remote call, counted at the proxy (the README quotes these)', async () => {
    const r = await openS3Remote(s3.url(await s3.bucket(), 'vault', proxy.url));
    const cost = async (fn: () => Promise<unknown>): Promise<Record<string, number>> => {
      proxy.resetCounts();
      await fn();
      return { ...proxy.counts.byMethod };
    };
    assert.deepEqual(await cost(() => r.put('heads/a', Uint8Array.of(1))), { PUT: 1 });
    assert.deepEqual(await cost(() => r.put('segs/a/1', Uint8Array.of(1), { ifAbsent: true })), { HEAD: 1, PUT: 1 });
    assert.deepEqual(await cost(() => r.get('heads/a')), { GET: 1 });
    assert.deepEqual(await cost(() => r.get('heads/missing')), { GET: 1 });
    assert.deepEqual(await cost(() => r.head('heads/a')), { HEAD: 1 });
    assert.deepEqual(await cost(() => r.list('heads/')), { GET: 1 });
    assert.deepEqual(await cost(() => r.delete('heads/a')), { DELETE: 1 });
    await Promise.all(Array.from({ length: 1050 }, (_, i) => r.put(`many/k${String(i).padStart(5, '0')}`, Uint8Array.of(1))));
    assert.deepEqual(await cost(() => r.list('many/')), { GET: 2 }, '1,000 keys a page');
    assert.deepEqual(await cost(() => r.list('many/', { after: 'many/k00999' })), { GET: 1 }, 'StartAfter skips what was seen');
    assert.deepEqual(await cost(() => r.list('many/', { limit: 10 })), { GET: 1 });
    await r.close();
  });
});
