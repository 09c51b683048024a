import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ErrorCode, KithError } from '@kith/core/adapter';
import { parseS3Url } from './s3-url.js';

const badUrl = (e: unknown) => KithError.is(e, ErrorCode.BadRemoteUrl);

test('bucket, prefix, endpoint, region, path style and conditional writes', () => {
  assert.deepEqual(parseS3Url('s3://my-bucket/some/prefix/?endpoint=http://127.0.0.1:9000&region=eu-west-1'), {
    bucket: 'my-bucket',
    prefix: 'some/prefix',
    endpoint: 'http://127.0.0.1:9000',
    region: 'eu-west-1',
    forcePathStyle: true,
  });
  assert.deepEqual(parseS3Url('s3://bucket.example'), { bucket: 'bucket.example', prefix: '', forcePathStyle: false });
  assert.equal(parseS3Url('s3://b12/x?endpoint=https://r2.example&pathStyle=false').forcePathStyle, false);
  assert.equal(parseS3Url('s3://b12/x?forcePathStyle=1').forcePathStyle, true);
  assert.equal(parseS3Url('s3://b12/x?endpoint=https://minio.example&conditionalWrites=true').conditionalWrites, true);
  assert.equal(parseS3Url('s3://b12/x?conditionalWrites=0').conditionalWrites, false);
  assert.equal(parseS3Url('s3://abc//deep/er//').prefix, 'deep/er');
});

test('credentials anywhere in the URL are refused, pointing at the AWS chain', () => {
  for (const bad of [
    's3://AKIA:secret@bucket/x',
    's3://AKIA@bucket/x',
    's3://bucket/x?secretAccessKey=abc',
    's3://bucket/x?accessKeyId=abc',
    's3://bucket/x?aws_session_token=abc',
    's3://bucket/x?password=abc',
    's3://bucket/x?endpoint=http://user:pw@127.0.0.1:9000',
  ]) {
    assert.throws(() => parseS3Url(bad), badUrl, bad);
  }
  assert.throws(
    () => parseS3Url('s3://AKIA:secret@bucket/x'),
    (e: unknown) => badUrl(e) && /AWS_ACCESS_KEY_ID/.test(e.hint ?? '') && !/AKIA|secret/.test(e.message),
  );
  assert.throws(
    () => parseS3Url('s3://bucket/x?secretAccessKey=hunter2'),
    (e: unknown) => badUrl(e) && !(e as Error).message.includes('hunter2'),
  );
  assert.throws(
    () => parseS3Url('s3://bucket/x?endpoint=http://u:hunter2@h'),
    (e: unknown) => badUrl(e) && !(e as Error).message.includes('hunter2'),
  );
});

test('malformed URLs are KITH_BAD_REMOTE_URL', () => {
  for (const bad of [
    'not a url',
    'http://bucket/x',
    's3://bu/x', // bucket too short
    `s3://${'a'.repeat(64)}/x`, // too long
    's3://Bucket/x', // upper case
    's3://-bucket/x',
    's3://bucket/x?endpoint=ftp://h',
    's3://bucket/x?endpoint=nope',
    's3://bucket/x?colour=red',
    's3://bucket/x?pathStyle=maybe',
    's3://bucket/a%20b',
    's3://bucket/%E0%A4%A',
  ]) {
    assert.throws(() => parseS3Url(bad), badUrl, bad);
  }
});

test('any valid bucket and prefix survive a round trip through the URL', () => {
  const bucket = fc.stringMatching(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/);
  const segment = fc.stringMatching(/^[A-Za-z0-9._-]{1,12}$/).filter((s) => s !== '.' && s !== '..');
  fc.assert(
    fc.property(bucket, fc.array(segment, { maxLength: 4 }), (b, segs) => {
      const l = parseS3Url(`s3://${b}/${segs.join('/')}?region=us-east-1`);
      assert.equal(l.bucket, b);
      assert.equal(l.prefix, segs.join('/'));
      assert.equal(l.region, 'us-east-1');
    }),
  );
});
