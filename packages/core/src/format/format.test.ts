import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { seededRandom } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { bytesToHex, generateDeviceKeys, hexToBytes, newEpochKey, recoveryKeys } from '../crypto/index.js';
import {
  decodeHead,
  decodeRegistryEntry,
  decodeSegment,
  decodeVaultHeader,
  encodeHead,
  encodeRegistryEntry,
  encodeSegment,
  epochKeyCheck,
  openEpochKey,
  remoteKeys,
  type RegistryChange,
} from './index.js';
import { buildVectors, cdcInput, mergeVector, VECTOR_INPUTS } from '../testing/format-vectors.js';
import { decodeBlobObject, decodeManifestPlaintext } from './blob-format.js';
import { AVG_CHUNK, gearTable, MAX_CHUNK, MIN_CHUNK } from '../blobs/chunker.js';
import { epochBoxKey } from '../identity/epochs.js';
import { DeviceRegistry, initialRegistry } from '../identity/registry.js';

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
  assert.deepEqual(entry.change, {
    kind: 'add',
    deviceId: V.deviceId,
    name: V.deviceName,
    signPub: hexToBytes(out.deviceSignPub),
    boxPub: hexToBytes(out.deviceBoxPub),
  });
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
  const revoke = await decodeRegistryEntry(hexToBytes(out.revokeEntry), { vaultId: V.vaultId, seq: 2, prevHash: hexToBytes(out.registryEntryHash) }, signers);
  assert.deepEqual(revoke.entry.change, { kind: 'revoke', deviceId: V.revokedDeviceId, lastSeq: 0, epoch: 1, keyCheck: hexToBytes(out.epochKeyCheck) });
  assert.equal(bytesToHex(epochKeyCheck(V.vaultId, 1, hexToBytes(V.epochKey))), out.epochKeyCheck);
  assert.equal(out.sealedKeyPlace, `keys/0000000001/${out.epochKeyCheck.slice(0, 16)}/${V.deviceId}`);
  assert.equal(head.at, V.headAt);
  assert.equal(hexToBytes(out.head)[5], 2, 'heads are written at version 2');
});

test('registry entries: an entry that opens an epoch is version 2 with its key check, version 1 without; version 2 is refused for other kinds', async () => {
  const rand = seededRandom(21);
  const signer = generateDeviceKeys(rand);
  const prevHash = new Uint8Array(32).fill(3);
  const signers = (id: string) => (id === signer.deviceId ? signer.sign.pub : undefined);
  const at = { vaultId, seq: 4, prevHash };
  const entry = (change: RegistryChange) => encodeRegistryEntry(vaultId, { seq: 4, prevHash, at: 9, signer: signer.deviceId, change }, signer.sign.seed);
  const keyCheck = epochKeyCheck(vaultId, 3, newEpochKey(rand));
  const cases: RegistryChange[] = [
    { kind: 'revoke', deviceId: '0807060504030201', lastSeq: 5, epoch: 3, keyCheck },
    { kind: 'recovery', signPub: signer.sign.pub, boxPub: signer.box.pub, epoch: 3, keyCheck },
    { kind: 'revoke', deviceId: '0807060504030201', lastSeq: 5, epoch: 3 }, // as written before key checks: still read
    { kind: 'recovery', signPub: signer.sign.pub, boxPub: signer.box.pub, epoch: 3 },
  ];
  for (const change of cases) {
    const { bytes } = await entry(change);
    assert.equal(bytes[5], 'keyCheck' in change ? 2 : 1);
    assert.deepEqual((await decodeRegistryEntry(bytes, at, signers)).entry.change, change);
    // The key check is signed: a remote cannot swap it.
    if ('keyCheck' in change) {
      const swapped = bytes.slice();
      swapped[bytes.length - 65] = swapped[bytes.length - 65]! ^ 1;
      await assert.rejects(decodeRegistryEntry(swapped, at, signers), is(ErrorCode.IntegrityCorrupt));
    }
  }
  // Relabelled as version 2, an add entry is refused (whoever signs it); so is an unknown version.
  const add = await entry({ kind: 'add', deviceId: '0807060504030201', name: 'x', signPub: signer.sign.pub, boxPub: signer.box.pub });
  const relabelled = add.bytes.slice();
  relabelled[5] = 2;
  await assert.rejects(decodeRegistryEntry(relabelled, at, signers), is(ErrorCode.IntegrityCorrupt));
  relabelled[5] = 3;
  await assert.rejects(decodeRegistryEntry(relabelled, at, signers), is(ErrorCode.UnsupportedFormat));
});

test('registry entries: any single bit flipped in, or any truncation of, the version 2 vector is refused', async () => {
  const bytes = hexToBytes(committed.outputs.revokeEntry);
  const expect = { vaultId: V.vaultId, seq: 2, prevHash: hexToBytes(committed.outputs.registryEntryHash) };
  const signers = (id: string) => (id === V.deviceId ? hexToBytes(committed.outputs.deviceSignPub) : undefined);
  await fc.assert(
    fc.asyncProperty(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 7 }), async (pos, bit) => {
      const t = bytes.slice();
      t[pos]! ^= 1 << bit;
      await assert.rejects(
        decodeRegistryEntry(t, expect, signers),
        (e: unknown) => e instanceof KithError && (e.code.startsWith('KITH_INTEGRITY') || e.code === ErrorCode.UnsupportedFormat),
      );
    }),
    { numRuns: 300 },
  );
  for (let n = 0; n < bytes.length; n += 5)
    await assert.rejects(
      decodeRegistryEntry(bytes.subarray(0, n), expect, signers),
      (e: unknown) => e instanceof KithError && e.code.startsWith('KITH_INTEGRITY'),
    );
});

test('test vectors: registry entries 2–6 chain after entry 1 and decode with their signers', async () => {
  const out = committed.outputs;
  const rotated = recoveryKeys(hexToBytes(V.rotatedRecoverySecret));
  const signers = (id: string): Uint8Array | undefined =>
    id === 'recovery' ? rotated.sign.pub : id === 'password' ? hexToBytes(out.passwordSignPub) : id === V.deviceId ? hexToBytes(out.deviceSignPub) : undefined;
  let prevHash = hexToBytes(out.registryEntryHash);
  const kinds: string[] = [];
  for (const e of out.registryEntries) {
    const { entry, hash } = await decodeRegistryEntry(hexToBytes(e.bytes), { vaultId: V.vaultId, seq: e.seq, prevHash }, signers);
    assert.equal(entry.at, V.createdAt + e.seq * 1000);
    assert.equal(bytesToHex(hash), e.hash);
    kinds.push(entry.change.kind);
    prevHash = hash;
  }
  assert.deepEqual(kinds, ['rename', 'password', 'recovery', 'password-remove', 'revoke']);
  // And the chain obeys the registry's rules, as a device replays it.
  const registry = new DeviceRegistry(V.vaultId, initialRegistry(hexToBytes(out.recoverySignPub), hexToBytes(out.recoveryBoxPub)));
  for (const bytes of [out.registryEntry, ...out.registryEntries.map((e) => e.bytes)]) await registry.applyNext(hexToBytes(bytes));
  assert.equal(registry.epoch, 2);
  assert.equal(bytesToHex(registry.recoverySignPub()), out.rotatedRecoverySignPub);
  assert.equal(registry.passwordParams(), undefined);
  assert.equal(registry.device(V.deviceId)?.name, V.renamedTo);
  assert.ok(registry.device(V.deviceId)?.revoked);
});

test("test vectors: the previous link opens epoch 0 with epoch 1's link key", async () => {
  const out = committed.outputs;
  const link = epochBoxKey(hexToBytes(V.epoch1Key));
  assert.equal(bytesToHex(link.pub), out.epoch1LinkPub);
  const opened = await openEpochKey(hexToBytes(out.previousSealedKey), {
    vaultId: V.vaultId,
    epoch: 1, // the newer epoch, although the key inside is epoch 0's
    recipientId: 'previous',
    recipientBoxSecret: link.secret,
    signerPub: (id) => (id === V.deviceId ? hexToBytes(out.deviceSignPub) : undefined),
  });
  assert.equal(bytesToHex(opened.epochKey), V.epochKey);
});

test('test vectors: the blob chunk and manifest decode to their plaintexts; the manifest names the chunk', async () => {
  const out = committed.outputs;
  const epochKey = (e: number) => (e === 0 ? hexToBytes(V.epochKey) : undefined);
  const chunk = await decodeBlobObject('chunk', hexToBytes(out.blobChunkObject), {
    vaultId: V.vaultId,
    expectId: out.blobChunkId,
    epochKey,
    maxBytes: MAX_CHUNK,
  });
  assert.equal(new TextDecoder().decode(chunk), V.blobChunk);
  const manifest = await decodeBlobObject('manifest', hexToBytes(out.blobManifestObject), {
    vaultId: V.vaultId,
    expectId: out.blobManifestId,
    epochKey,
    maxBytes: 1 << 20,
  });
  assert.equal(new TextDecoder().decode(manifest), out.blobManifestPlaintext);
  assert.deepEqual(decodeManifestPlaintext(manifest, out.blobManifestId).chunks, [[out.blobChunkId, chunk.length]]);
  assert.equal(out.blobRef, `kith:blob:${out.blobManifestId}`);
});

test('test vectors: chunk lengths as FORMAT.md describes the cut, written out byte by byte', () => {
  const gear = gearTable(hexToBytes(V.epochKey));
  const input = cdcInput(V.cdcInputBytes);
  // k one-bits at bit ⌊i·32/k⌋; as int32 so `&` keeps bit 31.
  const spread = (k: number) => Array.from({ length: k }, (_, i) => 2 ** Math.floor((i * 32) / k)).reduce((x, y) => x + y, 0) | 0;
  const [hard, easy] = [spread(22), spread(18)];
  const lengths: number[] = [];
  let start = 0;
  while (start < input.length) {
    let h = 0;
    let len = Math.min(MAX_CHUNK, input.length - start);
    for (let p = MIN_CHUNK; p < Math.min(MAX_CHUNK, input.length - start); p++) {
      h = (h * 2 + gear[input[start + p]!]!) % 2 ** 32;
      if ((h & (p < AVG_CHUNK ? hard : easy)) === 0) {
        len = p + 1;
        break;
      }
    }
    lengths.push(len);
    start += len;
  }
  assert.deepEqual(lengths, committed.outputs.cdcChunkLengths);
});

test('test vectors: the merge gives the same state and conflict in every delivery order', () => {
  const [a1, b1, a2] = V.mergeOps;
  for (const order of [
    [a1, b1, a2],
    [a1, a2, b1],
    [b1, a1, a2],
  ]) {
    assert.deepEqual(mergeVector(order as typeof V.mergeOps), committed.outputs.merge);
  }
  assert.equal(committed.outputs.merge.conflicts.length, 1);
});

test('FORMAT.md quotes the committed vectors exactly', () => {
  const md = readFileSync(new URL('../../../../docs/FORMAT.md', import.meta.url), 'utf8');
  const section = md.slice(md.indexOf('## Test vectors'));
  const quoted = new Map<string, string>();
  let last = '';
  for (const block of section.matchAll(/^```\n([\s\S]*?)^```/gm)) {
    for (const line of block[1]!.split('\n')) {
      const entry = /^([\w.]+)(?: \([^)]*\))? = (.*)$/.exec(line);
      if (entry) quoted.set((last = entry[1]!), entry[2]!);
      else if (line.startsWith('    ')) quoted.set(last, quoted.get(last)! + line.slice(4));
    }
  }
  const out = committed.outputs;
  const expected = (name: string): string | undefined => {
    const seq = /^registryEntry(\d+)Hash$/.exec(name);
    if (seq) return out.registryEntries.find((e) => e.seq === Number(seq[1]))?.hash;
    if (name === 'legacy.headV1') return committed.legacy.headV1;
    if (name === 'gearTableFirst') return out.gearTableFirst.join(' ');
    if (name === 'cdcChunkLengths') return out.cdcChunkLengths.join(', ');
    const v = (out as unknown as Record<string, unknown>)[name];
    return typeof v === 'string' || typeof v === 'number' ? String(v) : undefined;
  };
  assert.ok(quoted.size >= 30, `FORMAT.md quotes ${quoted.size} vectors`);
  for (const [name, text] of quoted) assert.equal(text, expected(name), `FORMAT.md's ${name}`);
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
  await assert.rejects(
    decodeHead(relabelled, { vaultId: V.vaultId, deviceId: V.deviceId, signPub: hexToBytes(out.deviceSignPub) }),
    is(ErrorCode.IntegrityCorrupt),
  );
  const future = bytes.slice();
  future[5] = 3;
  await assert.rejects(
    decodeHead(future, { vaultId: V.vaultId, deviceId: V.deviceId, signPub: hexToBytes(out.deviceSignPub) }),
    is(ErrorCode.UnsupportedFormat),
  );
});

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

test('registry entries: unknown signer, wrong place in the chain, every change kind round-trips', async () => {
  const out = committed.outputs;
  const bytes = hexToBytes(out.registryEntry);
  const expect = { vaultId: V.vaultId, seq: 1, prevHash: new Uint8Array(32) };
  await assert.rejects(
    decodeRegistryEntry(bytes, expect, () => undefined),
    is(ErrorCode.IntegrityUnknownSigner),
  );
  await assert.rejects(
    decodeRegistryEntry(bytes, { ...expect, seq: 2 }, () => device.sign.pub),
    is(ErrorCode.IntegrityChain),
  );
  await assert.rejects(
    decodeRegistryEntry(bytes, { ...expect, prevHash: new Uint8Array(32).fill(1) }, () => device.sign.pub),
    is(ErrorCode.IntegrityChain),
  );
  await assert.rejects(
    decodeRegistryEntry(bytes, expect, () => device.sign.pub),
    is(ErrorCode.IntegrityCorrupt),
  );
  const changes = [
    { kind: 'revoke', deviceId: 'ab'.repeat(8), lastSeq: 7, epoch: 1 },
    { kind: 'rename', deviceId: 'ab'.repeat(8), name: 'phone ✓' },
    { kind: 'recovery', signPub: new Uint8Array(32).fill(3), boxPub: new Uint8Array(32).fill(4), epoch: 2 },
    {
      kind: 'password',
      signPub: new Uint8Array(32).fill(5),
      boxPub: new Uint8Array(32).fill(6),
      params: { memoryKiB: 65536, iterations: 3, parallelism: 1, salt: new Uint8Array(16).fill(7) },
    },
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
