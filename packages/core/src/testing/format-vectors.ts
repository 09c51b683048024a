/**
 * @module format/vectors
 * Fixed inputs for the test vectors in docs/FORMAT.md. `buildVectors()`
 * encodes them; vectors.test.ts checks the result against the committed
 * `vectors.json`, so any change to the byte format shows up as a diff.
 */
import {
  bytesToHex,
  recoveryKeys,
  formatRecoveryCode,
  locatorOf,
  signingKeyFromSeed,
  boxKeyFromSecret,
  compress,
  padme,
  passwordKeys,
  sha256Sync,
  u32,
} from '../crypto/index.js';
import { blobId, encodeBlobObject, encodeManifestPlaintext, formatBlobRef } from '../format/blob-format.js';
import { Chunker, gearTable } from '../blobs/chunker.js';
import type { JsonValue } from '../model/json.js';
import { applyOp, conflictsOf, viewOf, type RecordView } from '../model/merge.js';
import { encodePayload, type Op } from '../model/ops.js';
import { epochBoxKey, sealKeyTo } from '../identity/epoch-seals.js';
import { encodeRegistryEntry } from '../format/registry-entry.js';
import { encodeHead } from '../format/head.js';
import { epochKeyCheck, epochKeyId } from '../format/sealed-key.js';
import { remoteKeys } from '../format/remote-keys.js';
import { encodeSegment } from '../format/segment.js';
import { encodeVaultHeader } from '../format/vault-header.js';

export const fill = (n: number, byte: number): Uint8Array => new Uint8Array(n).fill(byte);

/** Returns the given byte strings in order, as an injected RandomBytes. */
export function scripted(...outputs: Uint8Array[]): (n: number) => Uint8Array {
  return (n) => {
    const next = outputs.shift();
    if (!next || next.length !== n) throw new Error(`vector randomness: expected a request for ${next?.length} bytes, got ${n}`);
    return next;
  };
}

export const VECTOR_INPUTS = {
  vaultId: '00112233445566778899aabbccddeeff',
  deviceId: '0102030405060708',
  deviceName: 'laptop',
  createdAt: 1_767_225_600_000, // 2026-01-01T00:00:00Z
  deviceSignSeed: bytesToHex(fill(32, 0x11)),
  deviceBoxSecret: bytesToHex(fill(32, 0x22)),
  recoverySecret: bytesToHex(fill(16, 0x33)),
  epoch: 0,
  epochKey: bytesToHex(fill(32, 0x44)),
  segmentSeq: 1,
  segmentSalt: bytesToHex(fill(16, 0x55)),
  segmentNonce: bytesToHex(fill(12, 0x66)),
  sealEphemeralSecret: bytesToHex(fill(32, 0x77)),
  revokedDeviceId: '0807060504030201',
  headAt: 1_767_229_200_000, // 2026-01-01T01:00:00Z
  // The version 3 head (same fields) acknowledges two devices: seq 300 (a two-byte varint) and seq 1.
  headPulledAt: 1_767_229_140_000, // 2026-01-01T00:59:00Z
  headAcked: [
    ['0807060504030201', 300],
    ['a0a1a2a3a4a5a6a7', 1],
  ] as [string, number][],
  ops: [{ c: 'notes', i: 'n1', t: '0mjve0w000000', k: 'p' as const, s: { title: 'Hello' }, a: true }],
  // Registry entries 2–6 after entry 1, one of each kind 2–6 (at = createdAt + seq s).
  renamedTo: 'laptop ✓',
  password: 'vector password, not for use',
  passwordParams: { memoryKiB: 1024, iterations: 1, parallelism: 1, salt: bytesToHex(fill(16, 0x99)) },
  rotatedRecoverySecret: bytesToHex(fill(16, 0xaa)),
  // Epoch 1 (started by entry 4) and keys/0000000001/previous, which seals epoch 0's key to it.
  epoch1Key: bytesToHex(fill(32, 0xbb)),
  previousEphemeralSecret: bytesToHex(fill(32, 0xcc)),
  // Blobs under epoch 0: one chunk (too small to compress) and its manifest.
  blobChunk: 'Kith blob vector: one small chunk.\n',
  blobName: 'vector.txt',
  blobType: 'text/plain',
  blobChunkNonce: bytesToHex(fill(12, 0xdd)),
  blobManifestNonce: bytesToHex(fill(12, 0xee)),
  // Chunking: gear table of epoch 0's key; input = SHA-256(u32 k) for k = 0, 1, … concatenated, cut to this length.
  cdcInputBytes: 4 * 1024 * 1024,
  // Merge: device B (second id) saw A's put and patched the title; A patched it concurrently.
  mergeDevices: ['0102030405060708', '0807060504030201'],
  mergeOps: [
    { device: 0, op: { c: 'notes', i: 'n1', t: '0mjve0w000000', k: 'p' as const, s: { title: 'Groceries', pinned: true }, a: true } },
    {
      device: 1,
      op: {
        c: 'notes',
        i: 'n1',
        t: '0mjve0w100000',
        k: 'm' as const,
        s: { title: 'Groceries (Sat)' },
        a: true,
        r: { title: ['0mjve0w0000000102030405060708'], '': ['0mjve0w0000000102030405060708'] },
      },
    },
    {
      device: 0,
      op: {
        c: 'notes',
        i: 'n1',
        t: '0mjve0w200000',
        k: 'm' as const,
        s: { title: 'Groceries!' },
        a: true,
        r: { title: ['0mjve0w0000000102030405060708'], '': ['0mjve0w0000000102030405060708'] },
      },
    },
  ],
};

export interface Vectors {
  readonly recoveryCode: string;
  readonly recoverySignPub: string;
  readonly recoveryBoxPub: string;
  readonly deviceSignPub: string;
  readonly deviceBoxPub: string;
  readonly vaultHeader: string;
  readonly registryEntry: string;
  readonly registryEntryHash: string;
  readonly sealedKey: string;
  readonly segmentPayload: string;
  readonly segmentCompressed: string;
  readonly segmentPaddedLength: number;
  readonly segment: string;
  readonly segmentHash: string;
  readonly head: string;
  readonly headAcks: string;
  readonly epochKeyCheck: string;
  readonly sealedKeyPlace: string;
  readonly revokeEntry: string;
  readonly revokeEntryHash: string;
  readonly registryEntries: readonly { readonly seq: number; readonly kind: string; readonly bytes: string; readonly hash: string }[];
  readonly passwordSignPub: string;
  readonly passwordBoxPub: string;
  readonly rotatedRecoverySignPub: string;
  readonly rotatedRecoveryBoxPub: string;
  readonly epoch1LinkPub: string;
  readonly previousSealedKey: string;
  readonly blobChunkId: string;
  readonly blobChunkObject: string;
  readonly blobManifestPlaintext: string;
  readonly blobManifestId: string;
  readonly blobManifestObject: string;
  readonly blobRef: string;
  readonly gearTableFirst: readonly string[];
  readonly gearTableSha256: string;
  readonly cdcChunkLengths: readonly number[];
  readonly merge: MergeVector;
  /** The vault locators of the recovery secret and of the rotated one. */
  readonly vaultLocator: string;
  readonly rotatedVaultLocator: string;
}

/** A record after the merge ops, in the spec's terms: values, liveness, each field's heads (winner first), conflicts. */
export interface MergeVector {
  readonly fields: Readonly<Record<string, JsonValue>>;
  readonly alive: boolean;
  /** field (`""` = liveness) → heads, winner first: [full stamp, value] or [full stamp] for an unset. */
  readonly heads: Readonly<Record<string, readonly (readonly [string] | readonly [string, JsonValue])[]>>;
  readonly conflicts: readonly { readonly field: string | null; readonly heads: readonly (readonly [string] | readonly [string, JsonValue])[] }[];
}

const hex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));

export async function buildVectors(): Promise<Vectors> {
  const v = VECTOR_INPUTS;
  const recovery = recoveryKeys(hex(v.recoverySecret));
  const sign = signingKeyFromSeed(hex(v.deviceSignSeed));
  const box = boxKeyFromSecret(hex(v.deviceBoxSecret));
  const vaultHeader = await encodeVaultHeader(
    { vaultId: v.vaultId, createdAt: v.createdAt, founder: v.deviceId, recoverySignPub: recovery.sign.pub, recoveryBoxPub: recovery.box.pub },
    recovery.sign.seed,
  );
  const registryEntry = await encodeRegistryEntry(
    v.vaultId,
    {
      seq: 1,
      prevHash: new Uint8Array(32),
      at: v.createdAt,
      signer: 'recovery',
      change: { kind: 'add', deviceId: v.deviceId, name: v.deviceName, signPub: sign.pub, boxPub: box.pub },
    },
    recovery.sign.seed,
  );
  const sealedKey = await sealKeyTo(
    { vaultId: v.vaultId, signerId: v.deviceId, signerSeed: sign.seed, random: scripted(hex(v.sealEphemeralSecret)) },
    v.epoch,
    hex(v.epochKey),
    v.deviceId,
    box.pub,
  );
  const payload = encodePayload(v.ops);
  const compressed = await compress(payload);
  const segment = await encodeSegment({
    vaultId: v.vaultId,
    deviceId: v.deviceId,
    epoch: v.epoch,
    seq: v.segmentSeq,
    prevHash: new Uint8Array(32),
    payload,
    epochKey: hex(v.epochKey),
    signSeed: sign.seed,
    random: scripted(hex(v.segmentSalt), hex(v.segmentNonce)),
  });
  const headFields = {
    vaultId: v.vaultId,
    deviceId: v.deviceId,
    seq: v.segmentSeq,
    hash: segment.hash,
    registrySeq: 1,
    registryHash: registryEntry.hash,
    at: v.headAt,
    signSeed: sign.seed,
  };
  const head = await encodeHead(headFields);
  const headAcks = await encodeHead({ ...headFields, acks: { pulledAt: v.headPulledAt, applied: new Map(v.headAcked) } });
  // Entry 2 revokes another device and opens epoch 1, whose key (the same 32 × 0x44) it commits to.
  const keyCheck = epochKeyCheck(v.vaultId, v.epoch + 1, hex(v.epochKey));
  const revokeEntry = await encodeRegistryEntry(
    v.vaultId,
    {
      seq: 2,
      prevHash: registryEntry.hash,
      at: v.createdAt + 1,
      signer: v.deviceId,
      change: { kind: 'revoke', deviceId: v.revokedDeviceId, lastSeq: 0, epoch: v.epoch + 1, keyCheck },
    },
    sign.seed,
  );
  return {
    recoveryCode: formatRecoveryCode(hex(v.recoverySecret)),
    recoverySignPub: bytesToHex(recovery.sign.pub),
    recoveryBoxPub: bytesToHex(recovery.box.pub),
    deviceSignPub: bytesToHex(sign.pub),
    deviceBoxPub: bytesToHex(box.pub),
    vaultHeader: bytesToHex(vaultHeader),
    registryEntry: bytesToHex(registryEntry.bytes),
    registryEntryHash: bytesToHex(registryEntry.hash),
    sealedKey: bytesToHex(sealedKey),
    segmentPayload: new TextDecoder().decode(payload),
    segmentCompressed: bytesToHex(compressed),
    segmentPaddedLength: padme(4 + compressed.length),
    segment: bytesToHex(segment.bytes),
    segmentHash: bytesToHex(segment.hash),
    head: bytesToHex(head),
    headAcks: bytesToHex(headAcks),
    epochKeyCheck: bytesToHex(keyCheck),
    sealedKeyPlace: remoteKeys.sealedKey(v.epoch + 1, v.deviceId, epochKeyId(keyCheck)),
    revokeEntry: bytesToHex(revokeEntry.bytes),
    revokeEntryHash: bytesToHex(revokeEntry.hash),
    ...(await laterRegistryEntries(registryEntry.hash, sign.seed)),
    ...(await previousLink(sign.seed)),
    ...(await blobVectors()),
    ...chunkingVectors(),
    merge: mergeVector(VECTOR_INPUTS.mergeOps),
    vaultLocator: locatorOf(hex(v.recoverySecret)),
    rotatedVaultLocator: locatorOf(hex(v.rotatedRecoverySecret)),
  };
}

/** Entries 2–6: rename, password, recovery rotation (epoch 1), password-remove, revoke (epoch 2). */
async function laterRegistryEntries(entry1Hash: Uint8Array, deviceSeed: Uint8Array) {
  const v = VECTOR_INPUTS;
  const params = { ...v.passwordParams, salt: hex(v.passwordParams.salt) };
  const pw = await passwordKeys(v.password, params);
  const rotated = recoveryKeys(hex(v.rotatedRecoverySecret));
  const plan = [
    { signer: v.deviceId, seed: deviceSeed, change: { kind: 'rename', deviceId: v.deviceId, name: v.renamedTo } },
    { signer: v.deviceId, seed: deviceSeed, change: { kind: 'password', signPub: pw.sign.pub, boxPub: pw.box.pub, params } },
    { signer: v.deviceId, seed: deviceSeed, change: { kind: 'recovery', signPub: rotated.sign.pub, boxPub: rotated.box.pub, epoch: 1 } },
    { signer: 'password', seed: pw.sign.seed, change: { kind: 'password-remove' } },
    { signer: 'recovery', seed: rotated.sign.seed, change: { kind: 'revoke', deviceId: v.deviceId, lastSeq: 1, epoch: 2 } },
  ] as const;
  const registryEntries: Vectors['registryEntries'][number][] = [];
  let prevHash = entry1Hash;
  for (const [i, p] of plan.entries()) {
    const seq = i + 2;
    const e = await encodeRegistryEntry(v.vaultId, { seq, prevHash, at: v.createdAt + seq * 1000, signer: p.signer, change: p.change }, p.seed);
    registryEntries.push({ seq, kind: p.change.kind, bytes: bytesToHex(e.bytes), hash: bytesToHex(e.hash) });
    prevHash = e.hash;
  }
  return {
    registryEntries,
    passwordSignPub: bytesToHex(pw.sign.pub),
    passwordBoxPub: bytesToHex(pw.box.pub),
    rotatedRecoverySignPub: bytesToHex(rotated.sign.pub),
    rotatedRecoveryBoxPub: bytesToHex(rotated.box.pub),
  };
}

/** keys/0000000001/previous: epoch 0's key sealed to epoch 1's link key, signed by the device. */
async function previousLink(deviceSeed: Uint8Array) {
  const v = VECTOR_INPUTS;
  const link = epochBoxKey(hex(v.epoch1Key));
  const sealed = await sealKeyTo(
    { vaultId: v.vaultId, signerId: v.deviceId, signerSeed: deviceSeed, random: scripted(hex(v.previousEphemeralSecret)) },
    1,
    hex(v.epochKey),
    'previous',
    link.pub,
  );
  return { epoch1LinkPub: bytesToHex(link.pub), previousSealedKey: bytesToHex(sealed) };
}

async function blobVectors() {
  const v = VECTOR_INPUTS;
  const epochKey = hex(v.epochKey);
  const chunk = new TextEncoder().encode(v.blobChunk);
  const chunkId = await blobId(epochKey, v.vaultId, chunk);
  const chunkObject = await encodeBlobObject('chunk', {
    vaultId: v.vaultId,
    epoch: 0,
    epochKey,
    id: chunkId,
    plaintext: chunk,
    random: scripted(hex(v.blobChunkNonce)),
  });
  const manifest = encodeManifestPlaintext({ v: 1, size: chunk.length, name: v.blobName, type: v.blobType, chunks: [[chunkId, chunk.length]] });
  const manifestId = await blobId(epochKey, v.vaultId, manifest);
  const manifestObject = await encodeBlobObject('manifest', {
    vaultId: v.vaultId,
    epoch: 0,
    epochKey,
    id: manifestId,
    plaintext: manifest,
    random: scripted(hex(v.blobManifestNonce)),
  });
  return {
    blobChunkId: chunkId,
    blobChunkObject: bytesToHex(chunkObject),
    blobManifestPlaintext: new TextDecoder().decode(manifest),
    blobManifestId: manifestId,
    blobManifestObject: bytesToHex(manifestObject),
    blobRef: formatBlobRef(manifestId),
  };
}

/** The chunking input: SHA-256 of each u32 counter, concatenated. */
export function cdcInput(length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let k = 0; k * 32 < length; k++) out.set(sha256Sync(u32(k)).subarray(0, Math.min(32, length - k * 32)), k * 32);
  return out;
}

function chunkingVectors() {
  const gear = gearTable(hex(VECTOR_INPUTS.epochKey));
  const chunker = new Chunker(gear);
  const chunks = [...chunker.push(cdcInput(VECTOR_INPUTS.cdcInputBytes)), ...chunker.end()];
  const table = new Uint8Array(1024);
  const view = new DataView(table.buffer);
  gear.forEach((g, i) => view.setUint32(4 * i, g, true));
  return {
    gearTableFirst: [...gear.subarray(0, 4)].map((g) => g.toString(16).padStart(8, '0')),
    gearTableSha256: bytesToHex(sha256Sync(table)),
    cdcChunkLengths: chunks.map((c) => c.length),
  };
}

type HeadOut = readonly [string] | readonly [string, JsonValue];

/** Applies the merge ops in the given order to one record. */
export function mergeVector(ops: readonly { device: number; op: Op }[]): MergeVector {
  const devices = VECTOR_INPUTS.mergeDevices;
  const view: RecordView = viewOf(undefined, 'notes', 'n1');
  const applied = new Set<string>();
  for (const { device, op } of ops) {
    applyOp(view, op, devices[device]!, (s) => applied.has(s));
    applied.add(op.t + devices[device]!);
  }
  const heads: Record<string, HeadOut[]> = {};
  for (const field of Object.keys(view.state).sort()) {
    const reg = view.state[field]!;
    const winner: HeadOut = field === '' ? [reg.w, !view.deleted] : Object.hasOwn(view.fields, field) ? [reg.w, view.fields[field]!] : [reg.w];
    heads[field] = [winner, ...(reg.l ?? [])];
  }
  return {
    fields: { ...view.fields }, // a plain object, as JSON reads it back (the view keeps null-prototype maps)
    alive: !view.deleted,
    heads,
    conflicts: conflictsOf(view).map((c) => ({ field: c.field, heads: c.heads.map((h): HeadOut => (h.present ? [h.stamp, h.value!] : [h.stamp])) })),
  };
}
