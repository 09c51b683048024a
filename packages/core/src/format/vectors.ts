/**
 * @module format/vectors
 * Fixed inputs for the test vectors in docs/FORMAT.md. `buildVectors()`
 * encodes them; vectors.test.ts checks the result against the committed
 * `vectors.json`, so any change to the byte format shows up as a diff.
 */
import { bytesToHex, recoveryKeys, formatRecoveryCode, signingKeyFromSeed, boxKeyFromSecret, compress, padme } from '../crypto/index.js';
import { encodePayload } from '../ops.js';
import { encodeRegistryEntry } from './registry-entry.js';
import { encodeHead } from './head.js';
import { sealEpochKey } from './sealed-key.js';
import { encodeSegment } from './segment.js';
import { encodeVaultHeader } from './vault-header.js';

const fill = (n: number, byte: number): Uint8Array => new Uint8Array(n).fill(byte);

/** Returns the given byte strings in order, as an injected RandomBytes. */
function scripted(...outputs: Uint8Array[]): (n: number) => Uint8Array {
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
  headAt: 1_767_229_200_000, // 2026-01-01T01:00:00Z
  ops: [{ c: 'notes', i: 'n1', t: '0mjve0w000000', k: 'p' as const, s: { title: 'Hello' }, a: true }],
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
}

export async function buildVectors(): Promise<Vectors> {
  const v = VECTOR_INPUTS;
  const hex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));
  const recovery = recoveryKeys(hex(v.recoverySecret));
  const sign = signingKeyFromSeed(hex(v.deviceSignSeed));
  const box = boxKeyFromSecret(hex(v.deviceBoxSecret));
  const vaultHeader = await encodeVaultHeader(
    { vaultId: v.vaultId, createdAt: v.createdAt, founder: v.deviceId, recoverySignPub: recovery.sign.pub, recoveryBoxPub: recovery.box.pub },
    recovery.sign.seed,
  );
  const registryEntry = await encodeRegistryEntry(
    v.vaultId,
    { seq: 1, prevHash: new Uint8Array(32), at: v.createdAt, signer: 'recovery', change: { kind: 'add', deviceId: v.deviceId, name: v.deviceName, signPub: sign.pub, boxPub: box.pub } },
    recovery.sign.seed,
  );
  const sealedKey = await sealEpochKey({
    vaultId: v.vaultId,
    epoch: v.epoch,
    recipientId: v.deviceId,
    recipientBoxPub: box.pub,
    epochKey: hex(v.epochKey),
    signerId: v.deviceId,
    signerSeed: sign.seed,
    random: scripted(hex(v.sealEphemeralSecret)),
  });
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
  const head = await encodeHead({
    vaultId: v.vaultId,
    deviceId: v.deviceId,
    seq: v.segmentSeq,
    hash: segment.hash,
    registrySeq: 1,
    registryHash: registryEntry.hash,
    at: v.headAt,
    signSeed: sign.seed,
  });
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
  };
}
