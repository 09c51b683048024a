import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ErrorCode, KithError } from '../base/errors.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { aesGcmDecrypt, aesGcmEncrypt, ed25519Sign, ed25519Verify, hkdfSha256, hmacSha256With } from './primitives.js';
import { nodeAesGcm, nodeEd25519, nodeHkdfSha256, nodeHmacSha256, PKCS8_ED25519 } from './node-crypto.js';
import { signingKeyFromSeed } from './curves.js';
import { bytesToHex, hexToBytes } from './bytes.js';

const subtle = globalThis.crypto.subtle;
const webEncrypt = async (key: Uint8Array, nonce: Uint8Array, plain: Uint8Array, aad: Uint8Array): Promise<Uint8Array> => {
  const k = await subtle.importKey('raw', key.slice(), 'AES-GCM', false, ['encrypt']);
  return new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv: nonce.slice(), additionalData: aad.slice(), tagLength: 128 }, k, plain.slice()));
};
/** A plain Uint8Array that owns its whole buffer (no Node Buffer, no view into Node's shared pool). */
const isOwned = (b: Uint8Array): boolean => Object.getPrototypeOf(b) === Uint8Array.prototype && b.byteOffset === 0 && b.buffer.byteLength === b.length;

test('on Node, AES-256-GCM goes through node:crypto, byte for byte what WebCrypto gives, both ways', async () => {
  assert.ok(nodeAesGcm, 'node:crypto is reachable on Node');
  const sizes = fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 4000, max: 9000 }), fc.integer({ min: 60_000, max: 70_000 }));
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ minLength: 12, maxLength: 12 }),
      sizes,
      fc.uint8Array({ maxLength: 80 }),
      fc.integer({ min: 0, max: 255 }),
      async (key, nonce, size, aad, fill) => {
        const plain = Uint8Array.from({ length: size }, (_, i) => (i * 31 + fill) & 255);
        const web = await webEncrypt(key, nonce, plain, aad);
        const ours = await aesGcmEncrypt(key, nonce, plain, aad);
        assert.deepEqual(ours, web);
        assert.ok(isOwned(ours));
        assert.deepEqual(await aesGcmEncrypt(key, nonce, plain, aad, Uint8Array.of(fill, 1, 2)), Uint8Array.of(fill, 1, 2, ...web), 'after a prefix');
        const back = await aesGcmDecrypt(key, nonce, web, aad);
        assert.deepEqual(back, plain);
        assert.ok(isOwned(back), `a ${size}-byte plaintext owns its buffer`);
      },
    ),
    { numRuns: 60 },
  );
});

test('on Node, a wrong key, nonce or AAD, a flipped bit, a cut tag or a short input is KITH_INTEGRITY_CORRUPT; a bad key length is refused first', async () => {
  const key = new Uint8Array(32).fill(7);
  const nonce = new Uint8Array(12).fill(9);
  const aad = Uint8Array.of(1, 2, 3);
  const ct = await aesGcmEncrypt(key, nonce, new Uint8Array(5000).fill(42), aad);
  const corrupt = (e: unknown) => KithError.is(e, ErrorCode.IntegrityCorrupt);
  const flipped = (at: number) => Uint8Array.from(ct, (b, i) => (i === at ? b ^ 1 : b));
  for (const [what, args] of [
    ['wrong key', [new Uint8Array(32).fill(8), nonce, ct, aad]],
    ['wrong nonce', [key, new Uint8Array(12), ct, aad]],
    ['wrong AAD', [key, nonce, ct, Uint8Array.of(1, 2)]],
    ['flipped ciphertext bit', [key, nonce, flipped(10), aad]],
    ['flipped tag bit', [key, nonce, flipped(ct.length - 1), aad]],
    ['cut tag', [key, nonce, ct.subarray(0, ct.length - 4), aad]],
    ['shorter than a tag', [key, nonce, ct.subarray(0, 15), aad]],
    ['empty', [key, nonce, new Uint8Array(0), aad]],
  ] as [string, [Uint8Array, Uint8Array, Uint8Array, Uint8Array]][]) {
    await assert.rejects(aesGcmDecrypt(...args), corrupt, what);
  }
  const internal = (e: unknown) => KithError.is(e, ErrorCode.Internal);
  await assert.rejects(aesGcmDecrypt(new Uint8Array(16), nonce, ct, aad), internal);
  await assert.rejects(aesGcmEncrypt(new Uint8Array(31), nonce, ct, aad), internal);
});

test('on Node, HMAC-SHA256 goes through node:crypto, equal to WebCrypto; the signer keeps its own copy of the key', async () => {
  assert.ok(nodeHmacSha256, 'node:crypto is reachable on Node');
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 5000 }), async (key, data) => {
      const k = await subtle.importKey('raw', key.slice(), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
      const web = new Uint8Array(await subtle.sign('HMAC', k, data.slice()));
      const sign = hmacSha256With(key);
      key.fill(0); // the caller's buffer reused
      const ours = await sign(data);
      assert.deepEqual(ours, web);
      assert.ok(isOwned(ours));
    }),
    { numRuns: 60 },
  );
});

test('on Node, HKDF-SHA256 goes through node:crypto, byte for byte what @noble gives (and @noble where node:crypto takes no such input)', () => {
  assert.ok(nodeHkdfSha256, 'node:crypto is reachable on Node');
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 80 }),
      fc.uint8Array({ maxLength: 40 }),
      fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ minLength: 1020, maxLength: 1030 })),
      fc.integer({ min: 1, max: 200 }),
      (ikm, salt, info, length) => {
        const noble = hkdf(nobleSha256, ikm, salt, info, length);
        assert.deepEqual(hkdfSha256(ikm, salt, info, length), noble);
        const node = nodeHkdfSha256!(ikm, salt, info, length);
        if (info.length > 1024) assert.equal(node, undefined);
        else assert.deepEqual(node, noble);
      },
    ),
    { numRuns: 200 },
  );
});

test('on Node, Ed25519 signs and verifies through node:crypto, byte for byte and verdict for verdict what WebCrypto gives: tampered messages, signatures and keys, keys that are no point', async () => {
  assert.ok(nodeEd25519, 'node:crypto is reachable on Node');
  const webSign = async (seed: Uint8Array, msg: Uint8Array): Promise<Uint8Array> => {
    const k = await subtle.importKey('pkcs8', Uint8Array.from([...PKCS8_ED25519, ...seed]), { name: 'Ed25519' }, false, ['sign']);
    return new Uint8Array(await subtle.sign({ name: 'Ed25519' }, k, msg.slice()));
  };
  const webVerify = async (pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): Promise<boolean> => {
    try {
      const k = await subtle.importKey('raw', pub.slice(), { name: 'Ed25519' }, false, ['verify']);
      return await subtle.verify({ name: 'Ed25519' }, k, sig.slice(), msg.slice());
    } catch {
      return false;
    }
  };
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ maxLength: 300 }),
      fc.constantFrom('as signed', 'message', 'signature', 'key', 'random key'),
      fc.nat(),
      async (seed, msg, tamper, at) => {
        const sig = await ed25519Sign(seed, msg);
        assert.deepEqual(sig, await webSign(seed, msg));
        assert.ok(isOwned(sig));
        const pub = signingKeyFromSeed(seed).pub;
        const flip = (b: Uint8Array): Uint8Array => {
          const c = b.slice();
          if (c.length > 0) c[at % c.length]! ^= 1 << (at % 8);
          return c;
        };
        const [p, m, s] =
          tamper === 'message'
            ? [pub, flip(msg), sig]
            : tamper === 'signature'
              ? [pub, msg, flip(sig)]
              : tamper === 'key'
                ? [flip(pub), msg, sig]
                : tamper === 'random key'
                  ? [seed, msg, sig]
                  : [pub, msg, sig];
        const verdict = await ed25519Verify(p, m, s);
        assert.equal(verdict, await webVerify(p, m, s));
        assert.equal(verdict, tamper === 'as signed' || (tamper === 'message' && msg.length === 0));
      },
    ),
    { numRuns: 150 },
  );
});

test('on Node, Ed25519 keys imported from a seed alone sign RFC 8032 §7.1 tests 1 and 2 as published; a public key of the wrong length is refused', async () => {
  const vectors = [
    {
      seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
      pub: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
      msg: '',
      sig: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    },
    {
      seed: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
      pub: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
      msg: '72',
      sig: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
    },
  ];
  const ed = nodeEd25519!;
  for (const v of vectors) {
    const sig = ed.sign(ed.signingKey(hexToBytes(v.seed)), hexToBytes(v.msg));
    assert.equal(bytesToHex(sig), v.sig);
    assert.equal(ed.verify(ed.verifyingKey(hexToBytes(v.pub)), hexToBytes(v.msg), sig), true);
    assert.equal(await ed25519Verify(hexToBytes(v.pub), hexToBytes(v.msg), sig), true);
  }
  for (const n of [0, 31, 33, 64]) {
    assert.throws(() => ed.verifyingKey(new Uint8Array(n)));
    assert.equal(await ed25519Verify(new Uint8Array(n), new Uint8Array(0), new Uint8Array(64)), false);
  }
});
