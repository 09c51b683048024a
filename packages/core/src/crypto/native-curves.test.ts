import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { bytesToHex, hexToBytes } from './bytes.js';
import { boxKeyFromSecret, nobleCurves, signingKeyFromSeed, x25519Shared } from './curves.js';
import { platformCurves, type CurveOps } from './native-curves.js';
import { ErrorCode, KithError } from '../base/errors.js';

const key32 = fc.uint8Array({ minLength: 32, maxLength: 32 });

/** Low-order and non-canonical X25519 u-coordinates (RFC 7748 §5 asks for the top bit to be ignored), each also with the top bit set. */
const SPECIAL_PUBS = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0900000000000000000000000000000000000000000000000000000000000000',
].flatMap((h) => {
  const top = hexToBytes(h);
  top[31]! |= 0x80;
  return [hexToBytes(h), top];
});

/** The result of `fn`, or 'throws': both paths must agree on which keys they refuse too. */
const outcome = (fn: () => Uint8Array): string => {
  try {
    return bytesToHex(fn());
  } catch {
    return 'throws';
  }
};

const native = (): CurveOps => {
  const ops = platformCurves();
  assert.ok(ops, 'Node ≥ 20.16 reaches node:crypto through process.getBuiltinModule');
  return ops;
};

test('property: the platform curves give the same bytes as @noble/curves (public keys, shared secrets, refusals)', () => {
  const ops = native();
  fc.assert(
    fc.property(key32, key32, fc.oneof(key32, fc.constantFrom(...SPECIAL_PUBS)), (seed, secret, pub) => {
      assert.equal(bytesToHex(ops.edPub(seed)), bytesToHex(nobleCurves.edPub(seed)));
      assert.equal(bytesToHex(ops.xPub(secret)), bytesToHex(nobleCurves.xPub(secret)));
      assert.equal(
        outcome(() => ops.xShared(secret, pub)),
        outcome(() => nobleCurves.xShared(secret, pub)),
      );
      // Each side derives the same secret from the other's public key.
      assert.equal(bytesToHex(ops.xShared(secret, nobleCurves.xPub(seed))), bytesToHex(nobleCurves.xShared(seed, ops.xPub(secret))));
    }),
    { numRuns: 150 },
  );
});

test('every low-order point is refused as a KITH_INTEGRITY_CORRUPT shared secret, whichever path runs', () => {
  const secret = new Uint8Array(32).fill(9);
  for (const pub of SPECIAL_PUBS.slice(0, 4)) {
    assert.throws(
      () => x25519Shared(secret, pub),
      (e) => KithError.is(e, ErrorCode.IntegrityCorrupt),
    );
    assert.throws(() => native().xShared(secret, pub));
    assert.throws(() => nobleCurves.xShared(secret, pub));
  }
  assert.throws(() => native().xShared(secret, new Uint8Array(31)));
  assert.throws(() => native().xPub(new Uint8Array(31)));
});

test('without node:crypto (a browser), or with one that fails the test vectors, the platform curves are not used: @noble/curves is', () => {
  assert.equal(platformCurves({}), undefined);
  assert.equal(platformCurves({ getBuiltinModule: () => undefined }), undefined);
  // A node:crypto that took the JWK's placeholder `x` as the public key instead of deriving it from `d`.
  const wrong = {
    createPrivateKey: (o: { key: { x: string } }) => o.key,
    createPublicKey: (k: { x: string }) => ({ export: () => ({ x: k.x }) }),
    diffieHellman: () => new Uint8Array(32),
  };
  assert.equal(platformCurves({ getBuiltinModule: (id) => (id === 'node:crypto' ? wrong : undefined) }), undefined);
  // A throwing one.
  assert.equal(
    platformCurves({
      getBuiltinModule: () => {
        throw new Error('no');
      },
    }),
    undefined,
  );
  // The module's own functions give @noble/curves' bytes whichever path they took.
  const seed = new Uint8Array(32).fill(3);
  assert.deepEqual(signingKeyFromSeed(seed).pub, nobleCurves.edPub(seed));
  assert.deepEqual(boxKeyFromSecret(seed).pub, nobleCurves.xPub(seed));
});
