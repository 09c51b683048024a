/**
 * @module testing/snapshot-vectors
 * Fixed inputs for the snapshot test vectors of docs/FORMAT.md "Snapshot"
 * (`snapshot` in vectors.json, beside the other objects' vectors):
 * `buildSnapshotVectors()` encodes them, and format/snapshot.test.ts checks
 * the result against the committed bytes.
 */
import { bytesToHex, hexToBytes, signingKeyFromSeed, utf8 } from '../crypto/index.js';
import { blobId } from '../format/blob-format.js';
import { encodeSnapshot, snapshotKeys } from '../format/snapshot.js';
import type { RecordRow } from '../model/merge.js';
import { cutKey, cutRows, rowLine } from '../snapshot/state.js';

const fill = (n: number, byte: number): Uint8Array => new Uint8Array(n).fill(byte);

export const SNAPSHOT_VECTOR_INPUTS = {
  vaultId: '00112233445566778899aabbccddeeff',
  deviceId: '0102030405060708',
  deviceSignSeed: bytesToHex(fill(32, 0x11)),
  epoch: 0,
  epochKey: bytesToHex(fill(32, 0x44)),
  at: 1_767_232_800_000, // 2026-01-01T02:00:00Z
  // The registry entry and the segment of the main vectors (registryEntryHash, segmentHash).
  registrySeq: 1,
  registryHash: '693c8663254ca526509e682e8a8ec7192304157581736447433fee1fba79da74',
  coveredSeq: 1,
  coveredHash: '98a8397946d50a3a8eea78c7d470f2e8c7706973dd7733d4bc9b2a4c8fd9993d',
  coveredStamp: '0mjve0w0000000102030405060708',
  // The state after the main vectors' segment: notes/n1 = {title: "Hello"}.
  row: {
    collection: 'notes',
    id: 'n1',
    fields: { title: 'Hello' },
    deleted: false,
    state: { '': { w: '0mjve0w0000000102030405060708' }, title: { w: '0mjve0w0000000102030405060708' } },
    conflicted: false,
    updated: '0mjve0w0000000102030405060708',
  },
  salt: bytesToHex(fill(16, 0x12)),
  nonce: bytesToHex(fill(12, 0x13)),
};

export interface SnapshotVectors {
  readonly key: string;
  readonly stateLine: string;
  readonly cutKey: string;
  readonly chunks: readonly string[];
  readonly chunkId: string;
  readonly manifest: string;
}

export async function buildSnapshotVectors(): Promise<SnapshotVectors> {
  const V = SNAPSHOT_VECTOR_INPUTS;
  const epochKey = hexToBytes(V.epochKey);
  const row = V.row as unknown as RecordRow;
  const key = cutKey(epochKey, V.vaultId);
  const chunks = cutRows([row], key);
  const chunkId = await blobId(epochKey, V.vaultId, chunks[0]!);
  const random = [hexToBytes(V.salt), hexToBytes(V.nonce)];
  const manifest = await encodeSnapshot({
    vaultId: V.vaultId,
    deviceId: V.deviceId,
    at: V.at,
    epoch: V.epoch,
    epochKey,
    registrySeq: V.registrySeq,
    registryHash: hexToBytes(V.registryHash),
    devices: [{ deviceId: V.deviceId, seq: V.coveredSeq, hash: hexToBytes(V.coveredHash), stamp: V.coveredStamp }],
    rows: 1,
    live: 1,
    chunks: [{ id: chunkId, size: chunks[0]!.length }],
    signSeed: signingKeyFromSeed(hexToBytes(V.deviceSignSeed)).seed,
    random: (n) => {
      const next = random.shift();
      if (!next || next.length !== n) throw new Error(`vector randomness: unexpected request for ${n} bytes`);
      return next;
    },
  });
  return {
    key: snapshotKeys.of(V.at, V.deviceId),
    stateLine: rowLine(row),
    cutKey: bytesToHex(key),
    chunks: chunks.map((c) => new TextDecoder().decode(c)),
    chunkId,
    manifest: bytesToHex(manifest),
  };
}

/** The state bytes of the vector (its one line). */
export const snapshotVectorState = (): Uint8Array => utf8(rowLine(SNAPSHOT_VECTOR_INPUTS.row) + '\n');
