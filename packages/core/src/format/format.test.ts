import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { seededRandom } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { generateDeviceKeys, newEpochKey } from '../crypto/index.js';
import { decodeHead, decodeSegment, encodeHead, encodeSegment, remoteKeys } from './index.js';
import { VECTOR_INPUTS } from '../testing/format-vectors.js';

const is = (code: ErrorCode) => (e: unknown) => KithError.is(e, code);
const V = VECTOR_INPUTS;

// ---- segments under attack

const random = seededRandom(7);
const device = generateDeviceKeys(random);
const epochKey = newEpochKey(random);
const vaultId = V.vaultId;
const payload = new TextEncoder().encode('{"v":1,"ops":[]}'.repeat(20));

async function segment(seq = 3) {
  return encodeSegment({
    vaultId,
    deviceId: device.deviceId,
    epoch: 0,
    seq,
    prevHash: new Uint8Array(32).fill(9),
    payload,
    epochKey,
    signSeed: device.sign.seed,
    random,
  });
}
const decode = (bytes: Uint8Array, over: Partial<Parameters<typeof decodeSegment>[1]> = {}) =>
  decodeSegment(bytes, {
    vaultId,
    deviceId: device.deviceId,
    seq: 3,
    signPub: device.sign.pub,
    epochKey: (e) => (e === 0 ? epochKey : undefined),
    maxPayloadBytes: 1 << 20,
    ...over,
  });

test('segment round trip', async () => {
  const s = await segment();
  const d = await decode(s.bytes);
  assert.deepEqual(d.payload, payload);
  assert.deepEqual(d.hash, s.hash);
  assert.deepEqual(d.prevHash, new Uint8Array(32).fill(9));
});

test('segment: flipping any single bit is refused with a KITH_INTEGRITY or format error', async () => {
  const { bytes } = await segment();
  await fc.assert(
    fc.asyncProperty(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 7 }), async (pos, bit) => {
      const t = bytes.slice();
      t[pos]! ^= 1 << bit;
      await assert.rejects(
        decode(t),
        (e: unknown) => e instanceof KithError && (e.code.startsWith('KITH_INTEGRITY') || e.code === ErrorCode.UnsupportedFormat),
      );
    }),
    { numRuns: 300 },
  );
});

test('segment: truncation at any length is refused as corrupt', async () => {
  const { bytes } = await segment();
  for (let n = 0; n < bytes.length; n += 7) await assert.rejects(decode(bytes.subarray(0, n)), is(ErrorCode.IntegrityCorrupt));
  const longer = new Uint8Array(bytes.length + 1);
  longer.set(bytes);
  await assert.rejects(decode(longer), is(ErrorCode.IntegrityCorrupt));
});

test('segment: served under another seq or device is a chain error; another vault or signer is corrupt', async () => {
  const { bytes } = await segment();
  await assert.rejects(decode(bytes, { seq: 4 }), is(ErrorCode.IntegrityChain));
  await assert.rejects(decode(bytes, { deviceId: 'ffffffffffffffff' }), is(ErrorCode.IntegrityChain));
  await assert.rejects(decode(bytes, { vaultId: 'ff'.repeat(16) }), is(ErrorCode.IntegrityCorrupt));
  await assert.rejects(decode(bytes, { signPub: generateDeviceKeys(random).sign.pub }), is(ErrorCode.IntegrityCorrupt));
  await assert.rejects(decode(bytes, { epochKey: () => undefined }), /whose key this device does not hold/);
  await assert.rejects(decode(bytes, { epochKey: () => newEpochKey(random) }), is(ErrorCode.IntegrityCorrupt));
});

test('segment: a payload larger than the cap is refused', async () => {
  const { bytes } = await segment();
  await assert.rejects(decode(bytes, { maxPayloadBytes: 100 }), /expands beyond 100 bytes/);
});

test('a future format version is refused as unsupported, not as corrupt', async () => {
  const { bytes } = await segment();
  const t = bytes.slice();
  t[5] = 2;
  await assert.rejects(decode(t), is(ErrorCode.UnsupportedFormat));
});

test('head: round trip with its signed time; a head of another device or signer is refused', async () => {
  const at = Date.UTC(2026, 11, 6);
  const h = await encodeHead({
    vaultId,
    deviceId: device.deviceId,
    seq: 42,
    hash: new Uint8Array(32).fill(1),
    registrySeq: 3,
    registryHash: new Uint8Array(32).fill(2),
    at,
    signSeed: device.sign.seed,
  });
  assert.deepEqual(await decodeHead(h, { vaultId, deviceId: device.deviceId, signPub: device.sign.pub }), {
    seq: 42,
    hash: new Uint8Array(32).fill(1),
    registrySeq: 3,
    registryHash: new Uint8Array(32).fill(2),
    at,
  });
  // The time is signed: a remote cannot make an old head look new.
  const younger = h.slice();
  younger[6 + 8 + 8 + 32 + 8 + 32 + 7]! ^= 1;
  await assert.rejects(decodeHead(younger, { vaultId, deviceId: device.deviceId, signPub: device.sign.pub }), is(ErrorCode.IntegrityCorrupt));
  await assert.rejects(decodeHead(h, { vaultId, deviceId: '00'.repeat(8), signPub: device.sign.pub }), is(ErrorCode.IntegrityCorrupt));
  await assert.rejects(decodeHead(h, { vaultId, deviceId: device.deviceId, signPub: generateDeviceKeys(random).sign.pub }), is(ErrorCode.IntegrityCorrupt));
});

test('remote keys sort numerically in byte order', () => {
  const keys = [1, 2, 10, 999, 1_000_000].map((n) => remoteKeys.segment('ab'.repeat(8), n));
  assert.deepEqual([...keys].sort(), keys);
  assert.equal(remoteKeys.sealedKey(3, 'recovery'), 'keys/0000000003/recovery');
});
