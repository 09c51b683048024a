import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { ErrorCode, KithError, isIntegrityError } from '../base/errors.js';
import { bytesToHex, concatBytes, hexToBytes, passwordKeys, recoveryKeys, sha256Sync, signingKeyFromSeed } from '../crypto/index.js';
import { VECTOR_INPUTS } from '../testing/format-vectors.js';
import { BackupFileReader, BackupFileWriter, decodeFrame } from './backup-file.js';
import { openBackupKey, type BackupFrame } from './backup-header.js';

const V = VECTOR_INPUTS;
const VECTORS = new URL('../../src/format/vectors.json', import.meta.url);
const fill = (n: number, byte: number): Uint8Array => new Uint8Array(n).fill(byte);

/** The backup vector's inputs (docs/FORMAT.md "Backup file", test vectors). */
const INPUTS = {
  fileKey: bytesToHex(fill(32, 0xa1)),
  salt: bytesToHex(fill(16, 0xa2)),
  recoveryEphemeralSecret: bytesToHex(fill(32, 0xa3)),
  passwordEphemeralSecret: bytesToHex(fill(32, 0xa4)),
  createdAt: 1_767_232_800_000, // 2026-01-01T02:00:00Z
  state: { v: 1 as const, vv: { [V.deviceId]: '0mjve0w000000' }, blobs: [] as string[] },
  records: [
    ['notes', 'n1', { title: 'Hello' }],
    ['notes', 'n2', null],
  ] as [string, string, Record<string, unknown> | null][],
};

/** Version 2's vector adds an object of the person's identity (the sealed identity vector) and a reserved collection's record. */
const V2_EXTRA = {
  object: 'keys/identity/recovery',
  records: [['_kith.retention', 'notes', { days: 30 }]] as [string, string, Record<string, unknown> | null][],
};

/**
 * Writes the vector file: full backup of epoch 0 with one object (the vault header vector), one records frame (not compressed);
 * version 1 (the file older builds wrote, which this one must still read) unless told.
 */
async function buildBackupVector(version: 1 | 2 = 1): Promise<Uint8Array> {
  const committed = JSON.parse(readFileSync(VECTORS, 'utf8')) as { outputs: { vaultHeader: string }; spaces: { outputs: { sealedIdentity: string } } };
  const recovery = recoveryKeys(hexToBytes(V.recoverySecret));
  const pw = { ...V.passwordParams, salt: hexToBytes(V.passwordParams.salt) };
  const pwKeys = await passwordKeys(V.password, pw);
  const randoms = [hexToBytes(INPUTS.recoveryEphemeralSecret), hexToBytes(INPUTS.passwordEphemeralSecret)];
  const parts: Uint8Array[] = [];
  const w = await BackupFileWriter.start(
    {
      vaultId: V.vaultId,
      deviceId: V.deviceId,
      createdAt: INPUTS.createdAt,
      recoverySignPub: recovery.sign.pub,
      salt: hexToBytes(INPUTS.salt),
      blobs: true,
      version,
    },
    hexToBytes(INPUTS.fileKey),
    {
      recoveryBoxPub: recovery.box.pub,
      password: { params: pw, signPub: pwKeys.sign.pub, boxPub: pwKeys.box.pub },
      epoch: { epoch: 0, key: hexToBytes(V.epochKey) },
    },
    () => randoms.shift()!,
    async (b) => void parts.push(b),
  );
  await w.frame({ type: 'state', state: INPUTS.state });
  await w.frame({ type: 'object', key: 'vault', bytes: hexToBytes(committed.outputs.vaultHeader) });
  if (version === 2) await w.frame({ type: 'object', key: V2_EXTRA.object, bytes: hexToBytes(committed.spaces.outputs.sealedIdentity) });
  const records = version === 2 ? [...INPUTS.records, ...V2_EXTRA.records] : INPUTS.records;
  await w.frame({ type: 'records', records }, { compressRecords: false });
  await w.end({ records: records.length, blobs: 0 }, hexToBytes(V.deviceSignSeed));
  return concatBytes(...parts);
}

async function* pieces(bytes: Uint8Array, size = 7): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

/** Reads a whole file with the recovery code and checks its signature, as a restore's first pass does. */
async function readAll(bytes: Uint8Array): Promise<BackupFrame[]> {
  const r = await BackupFileReader.open(pieces(bytes), 'vector.kbk');
  const key = await openBackupKey(r.parsed, { recipient: 'recovery', boxSecret: recoveryKeys(hexToBytes(V.recoverySecret)).box.secret });
  r.unlock(key!);
  const frames: BackupFrame[] = [];
  for (let f = await r.next(); f; f = await r.next()) frames.push(f);
  const end = frames.at(-1);
  assert.equal(end?.type, 'end');
  await r.verifyEnd(end, signingKeyFromSeed(hexToBytes(V.deviceSignSeed)).pub);
  return frames;
}

test('backup file vector: the fixed inputs encode to the committed bytes, which decode back', async () => {
  const bytes = await buildBackupVector();
  const json = JSON.parse(readFileSync(VECTORS, 'utf8')) as { backup?: { inputs: unknown; outputs: { file: string; fileSha256: string } } };
  const outputs = { file: bytesToHex(bytes), fileSha256: bytesToHex(sha256Sync(bytes)) };
  if (process.env['KITH_WRITE_VECTORS'] === '1') {
    writeFileSync(VECTORS, JSON.stringify({ ...json, backup: { inputs: INPUTS, outputs } }, null, 2) + '\n');
  }
  assert.deepEqual(json.backup?.inputs, JSON.parse(JSON.stringify(INPUTS)));
  assert.deepEqual(outputs, json.backup!.outputs);
  const frames = await readAll(hexToBytes(json.backup!.outputs.file));
  assert.deepEqual(
    frames.map((f) => f.type),
    ['state', 'object', 'records', 'end'],
  );
  assert.deepEqual((frames[0] as Extract<BackupFrame, { type: 'state' }>).state, INPUTS.state);
  assert.deepEqual((frames[2] as Extract<BackupFrame, { type: 'records' }>).records, INPUTS.records);
  // Every recipient opens the same file key.
  const r = await BackupFileReader.open(pieces(bytes), 'vector.kbk');
  const pw = await passwordKeys(V.password, { ...V.passwordParams, salt: hexToBytes(V.passwordParams.salt) });
  assert.equal(bytesToHex((await openBackupKey(r.parsed, { recipient: 'password', boxSecret: pw.box.secret }))!), INPUTS.fileKey);
  assert.equal(bytesToHex((await openBackupKey(r.parsed, { recipient: 'epoch', epoch: async () => hexToBytes(V.epochKey) }))!), INPUTS.fileKey);
});

test('backup file vector, version 2: it also carries the identity sealed to the recovery key and reserved records; version 1 refuses that object', async () => {
  const bytes = await buildBackupVector(2);
  const json = JSON.parse(readFileSync(VECTORS, 'utf8')) as { backupV2?: { outputs: { fileSha256: string } } };
  const outputs = { fileSha256: bytesToHex(sha256Sync(bytes)) };
  if (process.env['KITH_WRITE_VECTORS'] === '1') writeFileSync(VECTORS, JSON.stringify({ ...json, backupV2: { outputs } }, null, 2) + '\n');
  assert.deepEqual(outputs, json.backupV2!.outputs);
  assert.equal(bytes[5], 2);
  const frames = await readAll(bytes);
  assert.deepEqual(
    frames.map((f) => (f.type === 'object' ? f.key : f.type)),
    ['state', 'vault', V2_EXTRA.object, 'records', 'end'],
  );
  assert.deepEqual((frames[3] as Extract<BackupFrame, { type: 'records' }>).records, [...INPUTS.records, ...V2_EXTRA.records]);
  await assert.rejects(
    decodeFrame(concatBytes(Uint8Array.of(0x02, 0, V2_EXTRA.object.length), new TextEncoder().encode(V2_EXTRA.object)), 'v1.kbk', 1),
    (e: unknown) => KithError.is(e, ErrorCode.IntegrityCorrupt),
  );
});

test('backup file: flipping any bit is refused with KITH_INTEGRITY_* (or KITH_UNSUPPORTED_FORMAT for the version byte)', async () => {
  const bytes = await buildBackupVector();
  await fc.assert(
    fc.asyncProperty(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 7 }), async (pos, bit) => {
      const t = bytes.slice();
      t[pos]! ^= 1 << bit;
      await assert.rejects(readAll(t), (e: unknown) => isIntegrityError(e) || KithError.is(e, ErrorCode.UnsupportedFormat));
    }),
    { numRuns: 300 },
  );
});

test('backup file: truncated anywhere, or with bytes after its end, it is corrupt', async () => {
  const bytes = await buildBackupVector();
  await fc.assert(
    fc.asyncProperty(fc.nat(bytes.length - 1), async (n) => {
      await assert.rejects(readAll(bytes.subarray(0, n)), (e: unknown) => isIntegrityError(e));
    }),
    { numRuns: 200 },
  );
  await assert.rejects(readAll(concatBytes(bytes, Uint8Array.of(0))), (e: unknown) => KithError.is(e, ErrorCode.IntegrityCorrupt));
});
