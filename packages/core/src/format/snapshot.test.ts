import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ErrorCode, KithError, isIntegrityError } from '../base/errors.js';
import { bytesToHex, hexToBytes, signingKeyFromSeed } from '../crypto/index.js';
import { decodeSnapshot, peekSnapshot, snapshotKeys } from './snapshot.js';
import { buildSnapshotVectors, SNAPSHOT_VECTOR_INPUTS, snapshotVectorState } from '../testing/snapshot-vectors.js';
import { RowReader } from '../snapshot/state.js';
import { committed } from './vectors.test.support.js';

const V = SNAPSHOT_VECTOR_INPUTS;
const snapshot = (committed as unknown as { snapshot: { inputs: unknown; outputs: Awaited<ReturnType<typeof buildSnapshotVectors>> } }).snapshot;
const signPub = signingKeyFromSeed(hexToBytes(V.deviceSignSeed)).pub;
const args = { vaultId: V.vaultId, key: snapshotKeys.of(V.at, V.deviceId), signPub, epochKey: (e: number) => (e === 0 ? hexToBytes(V.epochKey) : undefined) };

test('snapshot vectors: the fixed inputs encode to exactly the committed bytes', async () => {
  assert.deepEqual(snapshot.inputs, JSON.parse(JSON.stringify(V)));
  assert.deepEqual(await buildSnapshotVectors(), snapshot.outputs);
});

test('snapshot vectors: the committed manifest and state decode back to the inputs', async () => {
  const out = snapshot.outputs;
  const bytes = hexToBytes(out.manifest);
  assert.equal(out.key, 'snapshots/0001767232800000-0102030405060708');
  const m = await decodeSnapshot(bytes, args);
  assert.equal(m.at, V.at);
  assert.equal(m.deviceId, V.deviceId);
  assert.equal(m.registrySeq, 1);
  assert.equal(bytesToHex(m.registryHash), V.registryHash);
  assert.deepEqual(
    m.devices.map((d) => [d.deviceId, d.seq, bytesToHex(d.hash), d.stamp]),
    [[V.deviceId, 1, V.coveredHash, V.coveredStamp]],
  );
  assert.deepEqual(m.chunks, [{ id: out.chunkId, size: snapshotVectorState().length }]);
  assert.equal(out.chunks.join(''), out.stateLine + '\n');
  const rows = new RowReader('vector').push(snapshotVectorState());
  assert.deepEqual(JSON.parse(JSON.stringify(rows)), [V.row]);
  assert.deepEqual(peekSnapshot(bytes, out.key).registrySeq, 1);
});

test('snapshot: any altered byte, a truncation, another signer or another name is refused before anything is used', async () => {
  const bytes = hexToBytes(snapshot.outputs.manifest);
  for (let i = 0; i < bytes.length; i++) {
    const bad = bytes.slice();
    bad[i]! ^= 0x01;
    await assert.rejects(decodeSnapshot(bad, args), (e) => isIntegrityError(e) || KithError.is(e, ErrorCode.UnsupportedFormat), `byte ${i}`);
  }
  await assert.rejects(decodeSnapshot(bytes.subarray(0, bytes.length - 1), args), (e) => KithError.is(e, ErrorCode.IntegrityCorrupt));
  await assert.rejects(decodeSnapshot(new Uint8Array([...bytes, 0]), args), (e) => KithError.is(e, ErrorCode.IntegrityCorrupt));
  const other = signingKeyFromSeed(new Uint8Array(32).fill(0x21)).pub;
  await assert.rejects(decodeSnapshot(bytes, { ...args, signPub: other }), (e) => KithError.is(e, ErrorCode.IntegrityCorrupt));
  // Served under another name (an older time, another writer): a moved object.
  await assert.rejects(decodeSnapshot(bytes, { ...args, key: snapshotKeys.of(V.at - 1, V.deviceId) }), (e) => KithError.is(e, ErrorCode.IntegritySnapshot));
  await assert.rejects(decodeSnapshot(bytes, { ...args, key: snapshotKeys.of(V.at, '0807060504030201') }), (e) => KithError.is(e, ErrorCode.IntegritySnapshot));
});

test('snapshot state: a row that is not well-formed, or a state ending inside a row, is corrupt', () => {
  const bad = [
    '{}',
    '["notes","n1",0,"",{}]',
    '["../x","n1",0,"",{},{}]',
    '["notes","",0,"",{},{}]',
    '["notes","n1",2,"",{},{}]',
    '["notes","n1",0,"",{},{"f":{"x":1}}]',
    'nope',
  ];
  for (const line of bad) {
    assert.throws(
      () => new RowReader('t').push(new TextEncoder().encode(line + '\n')),
      (e) => KithError.is(e, ErrorCode.IntegrityCorrupt),
      line,
    );
  }
  const reader = new RowReader('t');
  reader.push(new TextEncoder().encode('["notes","n1",0,"",{},{}]'));
  assert.throws(
    () => reader.end(),
    (e) => KithError.is(e, ErrorCode.IntegrityCorrupt),
  );
});

test("FORMAT.md's Snapshot section quotes the committed snapshot vectors exactly", () => {
  const md = readFileSync(new URL('../../../../docs/FORMAT.md', import.meta.url), 'utf8');
  const section = md.slice(md.indexOf('## Snapshot ('), md.indexOf('## Segment payload'));
  const quoted = new Map<string, string>();
  let last = '';
  for (const block of section.matchAll(/^```\n([\s\S]*?)^```/gm)) {
    for (const line of block[1]!.split('\n')) {
      const entry = /^(\w+) = (.*)$/.exec(line);
      if (entry) quoted.set((last = entry[1]!), entry[2]!);
      else if (line.startsWith('    ')) quoted.set(last, quoted.get(last)! + line.slice(4));
    }
  }
  const out = snapshot.outputs as unknown as Record<string, string>;
  assert.deepEqual([...quoted.keys()].sort(), ['chunkId', 'cutKey', 'key', 'manifest', 'stateLine']);
  for (const [name, text] of quoted) assert.equal(text, out[name], `FORMAT.md's ${name}`);
});
