import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { seededRandom } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import {
  aesGcmDecrypt,
  aesGcmEncrypt,
  compress,
  decompress,
  ed25519Sign,
  ed25519Verify,
  formatRecoveryCode,
  generateDeviceKeys,
  generateRecoveryCode,
  padme,
  parseRecoveryCode,
  recoveryKeys,
  signingKeyFromSeed,
} from './index.js';

const rejectsWith = (code: ErrorCode) => (e: unknown) => KithError.is(e, code);

test('recovery code: round trip, case, spaces and Crockford aliases', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (secret) => {
      const code = formatRecoveryCode(secret);
      assert.match(code, /^([0-9A-HJKMNP-TV-Z]{4}-){7}[0-9A-HJKMNP-TV-Z]{4}$/);
      assert.deepEqual(parseRecoveryCode(code), secret);
      const sloppy = code.toLowerCase().replace(/-/g, ' ').replace(/0/g, 'o').replace(/1/g, 'l');
      assert.deepEqual(parseRecoveryCode(sloppy), secret);
    }),
  );
});

test('recovery code: any single-character typo is caught by the checksum', () => {
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.nat(31), fc.nat(30), (secret, pos, shift) => {
      const chars = formatRecoveryCode(secret).replace(/-/g, '').split('');
      const old = alphabet.indexOf(chars[pos]!);
      chars[pos] = alphabet[(old + 1 + shift) % 32]!;
      assert.throws(() => parseRecoveryCode(chars.join('')), rejectsWith(ErrorCode.BadRecoveryCode));
    }),
    { numRuns: 500 },
  );
});

test('recovery code: wrong length and bad characters are refused with one clear error', () => {
  const { code } = generateRecoveryCode(seededRandom(1));
  assert.throws(() => parseRecoveryCode(code.slice(0, -1)), /looks mistyped \(31 characters/);
  assert.throws(() => parseRecoveryCode(code.slice(0, -1) + 'U'), /not in the alphabet/);
  assert.throws(() => parseRecoveryCode(''), rejectsWith(ErrorCode.BadRecoveryCode));
});

test('recovery keys are deterministic and distinct per secret', () => {
  const a = recoveryKeys(new Uint8Array(16));
  const b = recoveryKeys(new Uint8Array(16));
  const c = recoveryKeys(new Uint8Array(16).fill(1));
  assert.deepEqual(a.sign.pub, b.sign.pub);
  assert.notDeepEqual(a.sign.pub, c.sign.pub);
  assert.notDeepEqual(a.box.pub, c.box.pub);
});

test('padme: never shorter, overhead at most 12%, monotone', () => {
  let prev = 0;
  for (let n = 0; n < 70_000; n += n < 1000 ? 1 : 97) {
    const p = padme(n);
    assert.ok(p >= n && p <= Math.max(n * 1.12, n + 1), `padme(${n}) = ${p}`);
    assert.ok(p >= prev);
    prev = p;
  }
  assert.equal(padme(1_000_000), 1_015_808);
});

test('AES-GCM: round trip; wrong key, nonce, AAD or a flipped bit fails as corrupt', async () => {
  const r = seededRandom(2);
  const key = r(32);
  const nonce = r(12);
  const ct = await aesGcmEncrypt(key, nonce, new TextEncoder().encode('hello'), Uint8Array.of(1));
  assert.equal(new TextDecoder().decode(await aesGcmDecrypt(key, nonce, ct, Uint8Array.of(1))), 'hello');
  await assert.rejects(aesGcmDecrypt(r(32), nonce, ct, Uint8Array.of(1)), rejectsWith(ErrorCode.IntegrityCorrupt));
  await assert.rejects(aesGcmDecrypt(key, r(12), ct, Uint8Array.of(1)), rejectsWith(ErrorCode.IntegrityCorrupt));
  await assert.rejects(aesGcmDecrypt(key, nonce, ct, Uint8Array.of(2)), rejectsWith(ErrorCode.IntegrityCorrupt));
  const flipped = ct.slice();
  flipped[0]! ^= 1;
  await assert.rejects(aesGcmDecrypt(key, nonce, flipped, Uint8Array.of(1)), rejectsWith(ErrorCode.IntegrityCorrupt));
});

test('Ed25519 through WebCrypto agrees with the seed-derived public key', async () => {
  const keys = generateDeviceKeys(seededRandom(3));
  const msg = new TextEncoder().encode('message');
  const sig = await ed25519Sign(keys.sign.seed, msg);
  assert.equal(sig.length, 64);
  assert.ok(await ed25519Verify(keys.sign.pub, msg, sig));
  assert.ok(!(await ed25519Verify(signingKeyFromSeed(new Uint8Array(32)).pub, msg, sig)));
  assert.ok(!(await ed25519Verify(keys.sign.pub, Uint8Array.of(1), sig)));
  assert.ok(!(await ed25519Verify(new Uint8Array(5), msg, sig)));
});

test('compress/decompress round trip', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 5000 }), async (bytes) => {
      assert.deepEqual(await decompress(await compress(bytes), bytes.length), bytes);
    }),
    { numRuns: 50 },
  );
});

test('decompress stops a bomb at the cap and refuses garbage', async () => {
  const bomb = await compress(new Uint8Array(50 * 1024 * 1024));
  assert.ok(bomb.length < 100_000);
  await assert.rejects(decompress(bomb, 1024 * 1024), /expands beyond 1048576 bytes/);
  await assert.rejects(decompress(Uint8Array.of(0xff, 0xff, 0xff), 1000), rejectsWith(ErrorCode.IntegrityCorrupt));
});

test('decompress: text that inflates a few times over (one output buffer) or many times over (several) comes back whole, and the cap holds at its byte', async () => {
  const words = ['local', 'first', 'sync', 'engine', 'vault', '{"title":"', '"}', '\n', 'r0001234', '0mjve0w0000000102030405060708'];
  await fc.assert(
    fc.asyncProperty(fc.array(fc.integer({ min: 0, max: words.length - 1 }), { maxLength: 40_000 }), fc.integer({ min: 1, max: 64 }), async (picks, repeat) => {
      const bytes = new TextEncoder().encode(picks.map((i) => words[i]!.repeat(1 + (i % 2) * repeat)).join(''));
      const packed = await compress(bytes);
      assert.deepEqual(await decompress(packed, bytes.length), bytes);
      if (bytes.length > 0) await assert.rejects(decompress(packed, bytes.length - 1), rejectsWith(ErrorCode.IntegrityCorrupt));
    }),
    { numRuns: 30 },
  );
});

test('decompress on Node inflates without DecompressionStream, with the same outcomes', async () => {
  const bytes = new Uint8Array(100_000).map((_, i) => i % 251);
  const packed = await compress(bytes);
  const bomb = await compress(new Uint8Array(8 * 1024 * 1024));
  const platform = globalThis.DecompressionStream;
  // Its per-16-KiB thread-pool jobs and stream plumbing were most of a snapshot chunk's decoding.
  globalThis.DecompressionStream = class {
    constructor() {
      throw new Error('DecompressionStream used');
    }
  } as unknown as typeof DecompressionStream;
  try {
    assert.deepEqual(await decompress(packed, bytes.length), bytes);
    await assert.rejects(decompress(packed, bytes.length - 1), /expands beyond 99999 bytes/);
    await assert.rejects(decompress(bomb, 1024 * 1024), /expands beyond 1048576 bytes/);
    await assert.rejects(decompress(packed.subarray(0, packed.length - 1), bytes.length), rejectsWith(ErrorCode.IntegrityCorrupt));
    assert.deepEqual(await decompress(await compress(new Uint8Array(0)), 0), new Uint8Array(0));
  } finally {
    globalThis.DecompressionStream = platform;
  }
});
