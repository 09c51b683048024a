import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ErrorCode, KithError } from '../base/errors.js';
import { bytesToHex, hexToBytes, recoveryKeys } from '../crypto/index.js';
import { decodeHead, decodeRegistryEntry, decodeSegment, decodeVaultHeader, epochKeyCheck, HEAD_VERSION, openEpochKey } from './index.js';
import { buildVectors, cdcInput, mergeVector, VECTOR_INPUTS } from '../testing/format-vectors.js';
import { decodeBlobObject, decodeManifestPlaintext } from './blob-format.js';
import { AVG_CHUNK, gearTable, MAX_CHUNK, MIN_CHUNK } from '../blobs/chunker.js';
import { epochBoxKey } from '../identity/epoch-seals.js';
import { DeviceRegistry, initialRegistry } from '../identity/registry.js';
import { committed } from './vectors.test.support.js';

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
  future[5] = HEAD_VERSION + 1;
  await assert.rejects(
    decodeHead(future, { vaultId: V.vaultId, deviceId: V.deviceId, signPub: hexToBytes(out.deviceSignPub) }),
    is(ErrorCode.UnsupportedFormat),
  );
});

test('test vectors: the version 3 head carries its signed acknowledgements; version 2 heads (none known) still decode', async () => {
  const out = committed.outputs;
  const opts = { vaultId: V.vaultId, deviceId: V.deviceId, signPub: hexToBytes(out.deviceSignPub) };
  const bytes = hexToBytes(out.headAcks);
  assert.equal(bytes[5], 3);
  const head = await decodeHead(bytes, opts);
  assert.deepEqual(head, {
    seq: 1,
    hash: hexToBytes(out.segmentHash),
    registrySeq: 1,
    registryHash: hexToBytes(out.registryEntryHash),
    at: V.headAt,
    acks: { pulledAt: V.headPulledAt, applied: new Map(V.headAcked) },
  });
  // Same fields before the acknowledgements as the version 2 head, which decodes with none.
  const v2 = hexToBytes(out.head);
  assert.deepEqual(bytes.subarray(6, v2.length - 64), v2.subarray(6, v2.length - 64));
  assert.equal('acks' in (await decodeHead(v2, opts)), false);
  // Signed: one acknowledged seq raised (300 → 301) is refused, not believed.
  const forged = bytes.slice();
  const at = bytes.length - 64 - 1 - 8 - 2;
  assert.equal(forged[at], 0xac);
  forged[at] = 0xad;
  await assert.rejects(decodeHead(forged, opts), is(ErrorCode.IntegrityCorrupt));
});
