/**
 * @module testing/snapshot-vectors
 * Fixed inputs for the snapshot test vectors of docs/FORMAT.md "Snapshot"
 * (`snapshot` in vectors.json, beside the other objects' vectors):
 * `buildSnapshotVectors()` encodes them, and format/snapshot.test.ts checks
 * the result against the committed bytes. `snapshot` is version 1 (rows
 * v1), which readers still take; `snapshotV2` is what writers write now.
 */
import { bytesToHex, hexToBytes, signingKeyFromSeed, utf8 } from '../crypto/index.js';
import { blobId } from '../format/blob-format.js';
import { encodeSnapshot, snapshotKeys } from '../format/snapshot.js';
import type { RecordRow } from '../model/merge.js';
import { cutKey, cutRows, rowLine, rowLineV2, type RowFormat } from '../snapshot/state.js';

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

const V2_STAMP = '0mjve0w0000000102030405060708';
const V2_OTHER = '0mjve0w0000010807060504030201';

/** Version 2: the same manifest inputs over two rows, one with the one-write state (no registers in its line) and one conflicted. */
export const SNAPSHOT_V2_VECTOR_INPUTS = {
  ...Object.fromEntries(Object.entries(SNAPSHOT_VECTOR_INPUTS).filter(([k]) => k !== 'row')),
  rows: [
    {
      collection: 'notes',
      id: 'n1',
      fields: { title: 'Hello', tags: ['a\tb'] },
      deleted: false,
      state: { title: { w: V2_STAMP }, tags: { w: V2_STAMP }, '': { w: V2_STAMP } },
      conflicted: false,
      updated: V2_STAMP,
    },
    {
      collection: 'notes',
      id: 'n2',
      fields: { title: 'Hi' },
      deleted: false,
      state: { title: { w: V2_OTHER, l: [[V2_STAMP, 'Ho']] }, '': { w: V2_STAMP } },
      conflicted: true,
      updated: V2_OTHER,
    },
  ],
} as unknown as Omit<typeof SNAPSHOT_VECTOR_INPUTS, 'row'> & { rows: RecordRow[] };

export interface SnapshotVectors {
  readonly key: string;
  readonly stateLine: string;
  readonly cutKey: string;
  readonly chunks: readonly string[];
  readonly chunkId: string;
  readonly manifest: string;
}

export function buildSnapshotVectors(): Promise<SnapshotVectors> {
  return buildVectors(1, SNAPSHOT_VECTOR_INPUTS, [SNAPSHOT_VECTOR_INPUTS.row]);
}

export function buildSnapshotV2Vectors(): Promise<SnapshotVectors> {
  return buildVectors(2, SNAPSHOT_V2_VECTOR_INPUTS, SNAPSHOT_V2_VECTOR_INPUTS.rows);
}

async function buildVectors(version: RowFormat, V: Omit<typeof SNAPSHOT_VECTOR_INPUTS, 'row'>, rows: RecordRow[]): Promise<SnapshotVectors> {
  const epochKey = hexToBytes(V.epochKey);
  const key = cutKey(epochKey, V.vaultId);
  const chunks = cutRows(rows, key, undefined, undefined, version);
  if (chunks.length !== 1) throw new Error('the vector state is one chunk');
  const chunkId = await blobId(epochKey, V.vaultId, chunks[0]!);
  const random = [hexToBytes(V.salt), hexToBytes(V.nonce)];
  const manifest = await encodeSnapshot({
    version,
    vaultId: V.vaultId,
    deviceId: V.deviceId,
    at: V.at,
    epoch: V.epoch,
    epochKey,
    registrySeq: V.registrySeq,
    registryHash: hexToBytes(V.registryHash),
    devices: [{ deviceId: V.deviceId, seq: V.coveredSeq, hash: hexToBytes(V.coveredHash), stamp: V.coveredStamp }],
    rows: rows.length,
    live: rows.filter((r) => !r.deleted).length,
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
    stateLine: rows.map(version === 1 ? rowLine : rowLineV2).join('\n'),
    cutKey: bytesToHex(key),
    chunks: chunks.map((c) => new TextDecoder().decode(c)),
    chunkId,
    manifest: bytesToHex(manifest),
  };
}

/** The state bytes of the vector (its one line). */
export const snapshotVectorState = (): Uint8Array => utf8(rowLine(SNAPSHOT_VECTOR_INPUTS.row) + '\n');
