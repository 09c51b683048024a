import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { base32nopad } from '@scure/base';
import { seededRandom } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { committed } from '../format/vectors.test.support.js';
import { bytesEqual, bytesToHex, hexToBytes } from './bytes.js';
import { formatRecoveryCode, parseRecoveryCode } from './recovery.js';
import { recoveryKeys } from './curves.js';
import { givenRecoveryCode, locatorOf, newRecoveryCode, vaultLocator } from './locator.js';

/** A relay vault name (packages/relay's protocol), which every locator must be. */
const RELAY_NAME = /^[A-Za-z0-9._-]{1,128}$/;
const secrets = fc.uint8Array({ minLength: 16, maxLength: 16 });
const locatorBytes = (locator: string): Uint8Array => base32nopad.decode(locator.slice('v1.'.length).toUpperCase());

test('vault locator: the committed vectors, from the code as typed or sloppily', () => {
  const out = committed.outputs;
  assert.equal(vaultLocator(out.recoveryCode), out.vaultLocator);
  assert.equal(vaultLocator(out.recoveryCode.toLowerCase().replace(/-/g, ' ')), out.vaultLocator);
  assert.equal(vaultLocator(formatRecoveryCode(hexToBytes(committed.inputs.rotatedRecoverySecret))), out.rotatedVaultLocator);
});

test('vault locator: a mistyped code gets the error restore gives, with its message', () => {
  const code = committed.outputs.recoveryCode;
  for (const bad of ['', code.slice(0, -1), `${code.slice(0, -1)}${code.endsWith('0') ? '1' : '0'}`, code.replace('S', 'U')]) {
    const expected = (() => {
      try {
        parseRecoveryCode(bad);
      } catch (e) {
        return e;
      }
      assert.fail(`${bad} parsed`);
    })() as KithError;
    assert.throws(
      () => vaultLocator(bad),
      (e: unknown) => KithError.is(e, ErrorCode.BadRecoveryCode) && e.message === expected.message,
    );
  }
});

test('vault locator: a relay vault name of one fixed shape; distinct codes, distinct locators', () => {
  fc.assert(
    fc.property(secrets, secrets, (a, b) => {
      const [la, lb] = [locatorOf(a), locatorOf(b)];
      assert.match(la, /^v1\.[a-z2-7]{26}$/);
      assert.match(la, RELAY_NAME);
      assert.equal(la === lb, bytesEqual(a, b));
    }),
  );
});

test('vault locator: never equal to (a prefix of) another value derived from the same secret', () => {
  fc.assert(
    fc.property(secrets, (secret) => {
      const bytes = locatorBytes(locatorOf(secret));
      const keys = recoveryKeys(secret);
      const code = formatRecoveryCode(secret);
      const others = [secret, keys.sign.seed, keys.sign.pub, keys.box.secret, keys.box.pub];
      for (const other of others) assert.ok(!bytesEqual(bytes, other.subarray(0, bytes.length)), 'locator equals another derivation');
      // Nor does its text carry the code or the secret.
      const text = locatorOf(secret);
      assert.ok(!text.includes(bytesToHex(secret)));
      for (let i = 0; i + 8 <= 32; i++) assert.ok(!text.toUpperCase().includes(code.replace(/-/g, '').slice(i, i + 8)));
    }),
  );
});

test('newRecoveryCode: a valid, fresh code; givenRecoveryCode gives it back canonical, with its secret', () => {
  const random = seededRandom(7);
  const a = newRecoveryCode(random);
  const b = newRecoveryCode(random);
  assert.notEqual(a, b);
  assert.notEqual(newRecoveryCode(), newRecoveryCode());
  const given = givenRecoveryCode(a.toLowerCase().replace(/-/g, ''));
  assert.equal(given.code, a);
  assert.deepEqual(given.secret, parseRecoveryCode(a));
  assert.throws(
    () => givenRecoveryCode('ABCD'),
    (e: unknown) => KithError.is(e, ErrorCode.BadRecoveryCode),
  );
});
