import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, KithError } from '@kith/core';
import { runRemoteConformance } from '@kith/core/testing';
import { openS3Remote, parseS3Url } from './index.js';
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

runRemoteConformance('s3 (s3rver process)', async () => {
  const remote = await openS3Remote(s3.url(await s3.bucket(), 'vault'));
  return { remote, cleanup: () => remote.close() };
}, { mixedSeparatorOrder: false });

runRemoteConformance('s3 through a faulty network (drops, 500/503 bursts, slow and truncated responses)', async () => {
  proxy.setFaults(randomFaults(Math.floor(Math.random() * 1e9), 0.15));
  const remote = await openS3Remote(s3.url(await s3.bucket(), 'p', proxy.url), { retry: { baseDelayMs: 5, maxDelayMs: 50, maxAttempts: 12 } });
  return {
    remote,
    cleanup: async () => {
      proxy.setFaults(undefined);
      await remote.close();
    },
  };
}, { bigObjects: false, mixedSeparatorOrder: false });

describe('s3 remote specifics', () => {
  test('URLs: bucket, prefix, endpoint, region, path style; credentials in the URL are refused', () => {
    assert.deepEqual(parseS3Url('s3://my-bucket/some/prefix/?endpoint=http://127.0.0.1:9000&region=eu-west-1'), {
      bucket: 'my-bucket',
      prefix: 'some/prefix',
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-west-1',
      forcePathStyle: true,
    });
    assert.deepEqual(parseS3Url('s3://bucket.example'), { bucket: 'bucket.example', prefix: '', forcePathStyle: false });
    assert.equal(parseS3Url('s3://b12/x?endpoint=https://r2.example&pathStyle=false').forcePathStyle, false);
    for (const bad of ['s3://AKIA:secret@bucket/x', 's3://bucket/x?secretAccessKey=abc', 's3://bucket/x?accessKeyId=abc', 's3://bu/x', 's3://bucket/x?endpoint=ftp://h', 's3://bucket/x?colour=red', 'http://bucket/x']) {
      assert.throws(() => parseS3Url(bad), is(ErrorCode.BadRemoteUrl), bad);
    }
    assert.throws(() => parseS3Url('s3://AKIA:secret@bucket/x'), (e: unknown) => /AWS_ACCESS_KEY_ID/.test((e as KithError).hint ?? ''));
  });

  test('a missing bucket is KITH_REMOTE_NOT_FOUND; a refused credential is KITH_REMOTE_AUTH; neither is retried', async () => {
    const missing = await openS3Remote(s3.url('no-such-bucket-here'));
    await assert.rejects(missing.list('heads/'), (e: unknown) => is(ErrorCode.RemoteNotFound)(e) && /create the bucket/.test((e).hint ?? ''));
    assert.equal(missing.stats.lists, 1, 'not retried');
    await missing.close();
    proxy.resetCounts();
    proxy.setFaults(() => ({ kind: 'status', status: 403 }));
    const denied = await openS3Remote(s3.url(await s3.bucket(), '', proxy.url));
    await assert.rejects(denied.get('vault'), (e: unknown) => is(ErrorCode.RemoteAuth)(e) && /AWS_ACCESS_KEY_ID/.test((e).hint ?? ''));
    assert.equal(proxy.counts.total, 1, 'a 403 is not retried');
    proxy.setFaults(undefined);
    await denied.close();
  });

  test('a server that keeps failing gets a bounded number of attempts, then one clear error', async () => {
    proxy.resetCounts();
    proxy.setFaults(() => ({ kind: 'status', status: 503 }));
    const r = await openS3Remote(s3.url(await s3.bucket(), '', proxy.url), { retry: { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 20 } });
    await assert.rejects(r.get('heads/x'), (e: unknown) => is(ErrorCode.RemoteUnavailable)(e) && /after 4 attempts/.test((e as Error).message));
    assert.equal(proxy.counts.total, 4);
    assert.equal(r.stats.gets, 4, 'stats count every attempt');
    proxy.setFaults(undefined);
    await r.close();
  });

  test('a truncated body is never returned as the object: it is retried', async () => {
    const bucket = await s3.bucket();
    const direct = await openS3Remote(s3.url(bucket));
    const big = new Uint8Array(200_000).map((_, i) => i % 251);
    await direct.put('objs/x', big);
    let n = 0;
    proxy.setFaults(({ method }) => (method === 'GET' && n++ < 2 ? { kind: 'truncate' } : undefined));
    const r = await openS3Remote(s3.url(bucket, '', proxy.url), { retry: { baseDelayMs: 5 } });
    assert.deepEqual(await r.get('objs/x'), big);
    assert.equal(r.stats.gets, 3);
    proxy.setFaults(undefined);
    await r.close();
    await direct.close();
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

  test('a 20 MiB object goes up in multipart parts and comes back whole', async () => {
    const r = await openS3Remote(s3.url(await s3.bucket()), { partSize: 5 * 1024 * 1024 });
    const big = new Uint8Array(20 * 1024 * 1024).map((_, i) => (i * 7) % 256);
    await r.put('blobs/big', big);
    assert.equal(r.stats.puts, 1 + 4 + 1, 'create + 4 parts + complete');
    const back = await r.get('blobs/big');
    assert.equal(back?.length, big.length);
    assert.ok(back.every((b, i) => b === big[i]));
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
});
