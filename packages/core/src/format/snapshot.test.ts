import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ErrorCode, KithError, isIntegrityError } from '../base/errors.js';
import { bytesToHex, hexToBytes, signingKeyFromSeed } from '../crypto/index.js';
import { decodeSnapshot, peekSnapshot, snapshotKeys } from './snapshot.js';
import {
  buildSnapshotV2Vectors,
  buildSnapshotVectors,
  SNAPSHOT_V2_VECTOR_INPUTS,
  SNAPSHOT_VECTOR_INPUTS,
  snapshotVectorState,
} from '../testing/snapshot-vectors.js';
import { rowText } from '../ports/row-text.js';
import { RowReader } from '../snapshot/row-reader.js';
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

const snapshotV2 = (committed as unknown as { snapshotV2: { inputs: unknown; outputs: Awaited<ReturnType<typeof buildSnapshotV2Vectors>> } }).snapshotV2;

test('snapshot v2 vectors: the fixed inputs encode to exactly the committed bytes, and decode back (version 2, rows v2 with their fields text)', async () => {
  assert.deepEqual(snapshotV2.inputs, JSON.parse(JSON.stringify(SNAPSHOT_V2_VECTOR_INPUTS)));
  const out = await buildSnapshotV2Vectors();
  assert.deepEqual(out, snapshotV2.outputs);
  const m = await decodeSnapshot(hexToBytes(out.manifest), args);
  assert.equal(m.version, 2);
  assert.equal((await decodeSnapshot(hexToBytes(snapshot.outputs.manifest), args)).version, 1);
  assert.equal(out.chunks.join(''), out.stateLine + '\n');
  const rows = new RowReader('vector', 2).push(new TextEncoder().encode(out.chunks[0]));
  assert.deepEqual(JSON.parse(JSON.stringify(rows)), SNAPSHOT_V2_VECTOR_INPUTS.rows);
  assert.deepEqual(
    rows.map((r) => rowText(r)),
    [
      { fields: '{"title":"Hello","tags":["a\\tb"]}', oneWrite: true },
      undefined, // conflicted: its fields are the merge's view, not the parsed text
    ],
  );
});

test('snapshot state v2: a line that is not a head, a tab and a fields object, or with a bad register or name, is corrupt', () => {
  const S = '"0mjve0w0000000102030405060708"';
  const bad = [
    `["notes","n1",0,${S}]`,
    `["notes","n1",0,${S}]\tnope`,
    `["notes","n1",0,${S}]\t[1]`,
    `["notes","n1",0]\t{}`,
    `["notes","n1",0,${S},{"":{"w":${S}}},1]\t{}`,
    `["notes","n1",0,${S},{"f":{"x":1}}]\t{}`,
    `["notes","n1",0,${S},[]]\t{}`,
    `["notes","n1",2,${S}]\t{}`,
    `["notes","n1",0,7]\t{}`,
    `["../x","n1",0,${S}]\t{}`,
    `["notes","",0,${S}]\t{}`,
    `{"notes":1}\t{}`,
    `["notes","n1",0,${S},{}]{}`,
  ];
  for (const line of bad) {
    assert.throws(
      () => new RowReader('t', 2).push(new TextEncoder().encode(line + '\n')),
      (e) => KithError.is(e, ErrorCode.IntegrityCorrupt),
      line,
    );
  }
  // A v1 line is not a v2 line, nor the other way round.
  assert.throws(
    () => new RowReader('t', 2).push(snapshotVectorState()),
    (e) => KithError.is(e, ErrorCode.IntegrityCorrupt),
  );
  assert.throws(
    () => new RowReader('t', 1).push(new TextEncoder().encode(snapshotV2.outputs.chunks[0])),
    (e) => KithError.is(e, ErrorCode.IntegrityCorrupt),
  );
});

test("FORMAT.md's Snapshot section quotes the committed v2 snapshot vectors exactly (its ~~~text block)", () => {
  const md = readFileSync(new URL('../../../../docs/FORMAT.md', import.meta.url), 'utf8');
  const section = md.slice(md.indexOf('## Snapshot ('), md.indexOf('## Compaction'));
  // One block; a line indented by four spaces continues the value before it.
  const block = /^~~~text\n([\s\S]*?)^~~~/m.exec(section)?.[1]?.replace(/\n {4}/g, '') ?? '';
  const quoted = new Map([...block.matchAll(/^v2\.(\w+) = (.*)$/gm)].map((m) => [m[1]!, m[2]!] as const));
  const out = snapshotV2.outputs as unknown as Record<string, string>;
  assert.deepEqual([...quoted.keys()].sort(), ['chunkId', 'manifest', 'stateLine']);
  for (const [name, text] of quoted) assert.equal(text, out[name]!.replaceAll('\t', '<TAB>').replaceAll('\n', '<LF>'), `FORMAT.md's v2.${name}`);
});
