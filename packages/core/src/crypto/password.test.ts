import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ErrorCode, KithError } from '../base/errors.js';
import { checkPassword, MIN_PASSWORD_LENGTH } from './password.js';
import { passwordKeys } from './password-keys.js';

const weak = (e: unknown) => KithError.is(e, ErrorCode.WeakPassword);
const verdict = (pw: string): 'ok' | 'weak' => {
  try {
    checkPassword(pw);
    return 'ok';
  } catch (e) {
    assert.ok(weak(e), String(e));
    return 'weak';
  }
};
/** Any code point but surrogates (a lone one is not text). */
const codePoint = fc.integer({ min: 0x20, max: 0x10ffff }).filter((c) => c < 0xd800 || c > 0xdfff);

test('checkPassword: the examples that were accepted are refused with KITH_WEAK_PASSWORD; real passphrases pass', () => {
  for (const pw of ['password123', 'hunter2', 'aaaaaaaaaaaaaaaa', '121212121212', 'passwordpassword', 'abcdefghijklmnop', 'zyxwvutsrqponm', 'é'.repeat(20)]) {
    assert.throws(() => checkPassword(pw), weak, pw);
  }
  for (const pw of ['correct horse battery', 'long enough password', 'Tr0ub4dor&3xyz', 'ключ от двери дома']) checkPassword(pw);
});

test('checkPassword: anything shorter than the floor (in code points after NFC) is refused', () => {
  fc.assert(fc.property(fc.array(codePoint, { maxLength: MIN_PASSWORD_LENGTH - 1 }), (cps) => verdict(String.fromCodePoint(...cps)) === 'weak'));
  // 12 decomposed letters are 24 code points before NFC and 12 after: counted as 12.
  assert.equal(verdict('éàüöçñ'.normalize('NFD') + 'xyzwvq'), 'ok');
  assert.equal(verdict('éàüöç'.normalize('NFD') + 'xyzwvq'), 'weak');
});

test('checkPassword: one unit repeated is refused whatever its length', () => {
  fc.assert(
    fc.property(fc.array(codePoint, { minLength: 1, maxLength: 8 }), fc.integer({ min: 2, max: 10 }), (unit, times) => {
      const pw = String.fromCodePoint(...Array.from({ length: times }, () => unit).flat());
      return verdict(pw) === 'weak';
    }),
  );
});

test('checkPassword: the verdict does not depend on the Unicode normalization form', () => {
  fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 30 }), (s) => verdict(s.normalize('NFC')) === verdict(s.normalize('NFD'))));
});

test('checkPassword: 12 or more different characters that are not a run are accepted', () => {
  fc.assert(
    fc.property(
      fc
        .uniqueArray(codePoint, { minLength: MIN_PASSWORD_LENGTH, maxLength: 40 })
        .filter((cps) => !cps.every((c, i) => i < 2 || c - cps[i - 1]! === cps[1]! - cps[0]!)),
      (cps) => {
        const pw = String.fromCodePoint(...cps);
        // Composing can merge characters; only count what stays 12 distinct code points.
        fc.pre([...new Set(pw.normalize('NFC'))].length >= MIN_PASSWORD_LENGTH);
        return verdict(pw) === 'ok';
      },
    ),
  );
});

test('passwordKeys: parameters older vaults stored (below the default) still derive the same keys', async () => {
  const salt = new Uint8Array(16).fill(3);
  // A short password set before the floor existed: restoring never applies the floor.
  const a = await passwordKeys('short', { memoryKiB: 16 * 1024, iterations: 2, parallelism: 1, salt });
  const b = await passwordKeys('short', { memoryKiB: 16 * 1024, iterations: 2, parallelism: 1, salt });
  assert.deepEqual(a.sign.pub, b.sign.pub);
});
