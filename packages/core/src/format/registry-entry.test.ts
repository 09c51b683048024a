import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { seededRandom } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { generateDeviceKeys, hexToBytes, newEpochKey } from '../crypto/index.js';
import { decodeRegistryEntry, encodeRegistryEntry, epochKeyCheck, type RegistryChange } from './index.js';
import { VECTOR_INPUTS } from '../testing/format-vectors.js';
import { committed } from './vectors.test.support.js';

const is = (code: ErrorCode) => (e: unknown) => KithError.is(e, code);
const V = VECTOR_INPUTS;
const device = generateDeviceKeys(seededRandom(7));
const vaultId = V.vaultId;

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
