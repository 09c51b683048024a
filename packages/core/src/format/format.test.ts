import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { seededRandom } from '../deps.js';
import { ErrorCode, KithError } from '../errors.js';
import { bytesToHex, generateDeviceKeys, hexToBytes, newEpochKey, recoveryKeys } from '../crypto/index.js';
import { decodeHead, decodeRegistryEntry, decodeSegment, decodeVaultHeader, encodeHead, encodeRegistryEntry, encodeSegment, openEpochKey, remoteKeys } from './index.js';
import { buildVectors, VECTOR_INPUTS } from './vectors.js';

const committed = JSON.parse(readFileSync(new URL('../../src/format/vectors.json', import.meta.url), 'utf8')) as {
  inputs: typeof VECTOR_INPUTS;
  outputs: Awaited<ReturnType<typeof buildVectors>>;
  /** Bytes written by older versions (same inputs), which this build must still read. */
  legacy: { headV1: string };
};
const is = (code: ErrorCode) => (e: unknown) => KithError.is(e, code);
const V = VECTOR_INPUTS;

test('test vectors: encoding the fixed inputs gives exactly the committed bytes', async () => {
  assert.deepEqual(committed.inputs, JSON.parse(JSON.stringify(V)));
  assert.deepEqual(await buildVectors(), committed.outputs);
});

test('test vectors: the committed bytes decode back to the inputs', async () => {
  const out = committed.outputs;
  const header = await decodeVaultHeader(hexToBytes(out.vaultHeader));
  assert.equal(header.vaultId, V.vaultId);
  assert.equal(header.createdAt, V.createdAt);
  assert.equal(header.founder, V.deviceId);
  assert.equal(bytesToHex(header.recoverySignPub), out.recoverySignPub);
  const recovery = recoveryKeys(hexToBytes(V.recoverySecret));
  const signers = (id: string): Uint8Array | undefined =>
    id === 'recovery' ? recovery.sign.pub : id === V.deviceId ? hexToBytes(out.deviceSignPub) : undefined;
  const { entry, hash } = await decodeRegistryEntry(hexToBytes(out.registryEntry), { vaultId: V.vaultId, seq: 1, prevHash: new Uint8Array(32) }, signers);
  assert.deepEqual(entry.change, { kind: 'add', deviceId: V.deviceId, name: V.deviceName, signPub: hexToBytes(out.deviceSignPub), boxPub: hexToBytes(out.deviceBoxPub) });
  assert.equal(entry.signer, 'recovery');
  assert.equal(bytesToHex(hash), out.registryEntryHash);
  const { epochKey } = await openEpochKey(hexToBytes(out.sealedKey), {
    vaultId: V.vaultId,
    epoch: V.epoch,
    recipientId: V.deviceId,
    recipientBoxSecret: hexToBytes(V.deviceBoxSecret),
    signerPub: signers,
  });
  assert.equal(bytesToHex(epochKey), V.epochKey);
  const seg = await decodeSegment(hexToBytes(out.segment), {
    vaultId: V.vaultId,
    deviceId: V.deviceId,
    seq: 1,
    signPub: hexToBytes(out.deviceSignPub),
    epochKey: (e) => (e === 0 ? epochKey : undefined),
    maxPayloadBytes: 1 << 20,
  });
  assert.equal(new TextDecoder().decode(seg.payload), out.segmentPayload);
  assert.equal(bytesToHex(seg.hash), out.segmentHash);
  const head = await decodeHead(hexToBytes(out.head), { vaultId: V.vaultId, deviceId: V.deviceId, signPub: hexToBytes(out.deviceSignPub) });
  assert.equal(head.seq, 1);
  assert.equal(bytesToHex(head.hash), out.segmentHash);
  assert.equal(head.registrySeq, 1);
  assert.equal(bytesToHex(head.registryHash), out.registryEntryHash);
  assert.equal(head.at, V.headAt);
  assert.equal(hexToBytes(out.head)[5], 2, 'heads are written at version 2');
});

test('test vectors: a version 1 head (no signed time) still decodes', async () => {
  const out = committed.outputs;
  const bytes = hexToBytes(committed.legacy.headV1);
  assert.equal(bytes[5], 1);
  const head = await decodeHead(bytes, { vaultId: V.vaultId, deviceId: V.deviceId, signPub: hexToBytes(out.deviceSignPub) });
  assert.deepEqual(head, { seq: 1, hash: hexToBytes(out.segmentHash), registrySeq: 1, registryHash: hexToBytes(out.registryEntryHash) });
  assert.equal('at' in head, false);
  // Its signature covers the version byte: relabelled as version 2 it is refused, not misread.
  const relabelled = bytes.slice();
  relabelled[5] = 2;
  await assert.rejects(decodeHead(relabelled, { vaultId: V.vaultId, deviceId: V.deviceId, signPub: hexToBytes(out.deviceSignPub) }), is(ErrorCode.IntegrityCorrupt));
  const future = bytes.slice();
  future[5] = 3;
  await assert.rejects(decodeHead(future, { vaultId: V.vaultId, deviceId: V.deviceId, signPub: hexToBytes(out.deviceSignPub) }), is(ErrorCode.UnsupportedFormat));
});

// ---- segments under attack

const random = seededRandom(7);
const device = generateDeviceKeys(random);
const epochKey = newEpochKey(random);
const vaultId = V.vaultId;
const payload = new TextEncoder().encode('{"v":1,"ops":[]}'.repeat(20));

async function segment(seq = 3) {
  return encodeSegment({ vaultId, deviceId: device.deviceId, epoch: 0, seq, prevHash: new Uint8Array(32).fill(9), payload, epochKey, signSeed: device.sign.seed, random });
}
const decode = (bytes: Uint8Array, over: Partial<Parameters<typeof decodeSegment>[1]> = {}) =>
  decodeSegment(bytes, { vaultId, deviceId: device.deviceId, seq: 3, signPub: device.sign.pub, epochKey: (e) => (e === 0 ? epochKey : undefined), maxPayloadBytes: 1 << 20, ...over });

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
      await assert.rejects(decode(t), (e: unknown) => e instanceof KithError && (e.code.startsWith('KITH_INTEGRITY') || e.code === ErrorCode.UnsupportedFormat));
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
  const h = await encodeHead({ vaultId, deviceId: device.deviceId, seq: 42, hash: new Uint8Array(32).fill(1), registrySeq: 3, registryHash: new Uint8Array(32).fill(2), at, signSeed: device.sign.seed });
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

test('registry entries: unknown signer, wrong place in the chain, every change kind round-trips', async () => {
  const out = committed.outputs;
  const bytes = hexToBytes(out.registryEntry);
  const expect = { vaultId: V.vaultId, seq: 1, prevHash: new Uint8Array(32) };
  await assert.rejects(decodeRegistryEntry(bytes, expect, () => undefined), is(ErrorCode.IntegrityUnknownSigner));
  await assert.rejects(decodeRegistryEntry(bytes, { ...expect, seq: 2 }, () => device.sign.pub), is(ErrorCode.IntegrityChain));
  await assert.rejects(decodeRegistryEntry(bytes, { ...expect, prevHash: new Uint8Array(32).fill(1) }, () => device.sign.pub), is(ErrorCode.IntegrityChain));
  await assert.rejects(decodeRegistryEntry(bytes, expect, () => device.sign.pub), is(ErrorCode.IntegrityCorrupt));
  const changes = [
    { kind: 'revoke', deviceId: 'ab'.repeat(8), lastSeq: 7, epoch: 1 },
    { kind: 'rename', deviceId: 'ab'.repeat(8), name: 'phone ✓' },
    { kind: 'recovery', signPub: new Uint8Array(32).fill(3), boxPub: new Uint8Array(32).fill(4), epoch: 2 },
    { kind: 'password', signPub: new Uint8Array(32).fill(5), boxPub: new Uint8Array(32).fill(6), params: { memoryKiB: 65536, iterations: 3, parallelism: 1, salt: new Uint8Array(16).fill(7) } },
    { kind: 'password-remove' },
  ] as const;
  for (const change of changes) {
    const e = { seq: 5, prevHash: new Uint8Array(32).fill(8), at: 1234, signer: device.deviceId, change };
    const enc = await encodeRegistryEntry(vaultId, e, device.sign.seed);
    const dec = await decodeRegistryEntry(enc.bytes, { vaultId, seq: 5, prevHash: e.prevHash }, (id) => (id === device.deviceId ? device.sign.pub : undefined));
    assert.deepEqual(dec.entry, e);
    assert.deepEqual(dec.hash, enc.hash);
  }
});

test('remote keys sort numerically in byte order', () => {
  const keys = [1, 2, 10, 999, 1_000_000].map((n) => remoteKeys.segment('ab'.repeat(8), n));
  assert.deepEqual([...keys].sort(), keys);
  assert.equal(remoteKeys.sealedKey(3, 'recovery'), 'keys/0000000003/recovery');
});
