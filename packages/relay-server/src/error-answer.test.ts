import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, KithError } from '@kith/core';
import { RELAY_ERROR_STATUSES, relayAnswerCode } from '@kith/relay/protocol';
import { RelayError } from './auth/access.js';
import { errorAnswer } from './error-answer.js';

test('every pair in the relay status table round-trips: the server answers it, a client reads the same code back', () => {
  assert.ok(RELAY_ERROR_STATUSES.length > 10);
  for (const { code, status, byDefault } of RELAY_ERROR_STATUSES) {
    const answer = errorAnswer(new RelayError(status, code, 'refused'));
    assert.equal(answer.status, status, `${code} ${status}`);
    assert.equal(answer.body.code, code);
    assert.equal(relayAnswerCode(answer.status, answer.body.code), code, `${code} ${status}`);
    // A KithError that names no status gets its code's default row, and reads back the same.
    const plain = errorAnswer(new KithError(code, 'refused'));
    if (byDefault) assert.equal(plain.status, status, `${code} by default`);
    assert.equal(relayAnswerCode(plain.status, plain.body.code), code, `${code} as a plain KithError (${plain.status})`);
  }
});

test('a pair missing from the table is a bug, not an answer; statuses alone read as their fallback', () => {
  assert.throws(
    () => new RelayError(418, ErrorCode.BadInput, 'teapot'),
    (e: unknown) => KithError.is(e) && e.code === ErrorCode.Internal,
  );
  assert.equal(errorAnswer(new Error('boom')).status, 500);
  assert.ok(errorAnswer(new Error('boom')).internal);
  assert.equal(relayAnswerCode(401, undefined), ErrorCode.RemoteAuth);
  assert.equal(relayAnswerCode(401, ErrorCode.Revoked), ErrorCode.RemoteAuth);
  assert.equal(relayAnswerCode(403, ErrorCode.Revoked), ErrorCode.Revoked);
  assert.equal(relayAnswerCode(403, 'nonsense'), ErrorCode.RemoteAuth);
  assert.equal(relayAnswerCode(502, undefined), ErrorCode.RemoteUnavailable);
  assert.equal(relayAnswerCode(400, 'KITH_NOT_A_CODE'), ErrorCode.RemoteUnavailable);
  // Fastify's own refusals carry a status and no Kith code.
  assert.deepEqual(errorAnswer(Object.assign(new Error('too big'), { statusCode: 413 })).body.code, ErrorCode.TooLarge);
});
