import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, KithError } from '../../base/errors.js';
import { SpaceState } from '../../spaces/space-state.js';
import { newMemoryStoreData, openMemoryStore } from '../../testing/memory-store.js';
import { refusalWarnings, type SpaceRefusal } from './space-refusals.js';

const SPACE = { spaceId: 'ab'.repeat(16), name: 'Family' };
const refusal = (deviceId: string, seq: number, code: ErrorCode, reason?: string): SpaceRefusal => ({
  deviceId,
  seq,
  error: new KithError(code, `refused ${deviceId}/${seq}`, reason === undefined ? {} : { reason }),
});

test('a refusal is said once while it stands; again when it changes (another object or cause) or comes back after going', async () => {
  const store = openMemoryStore(newMemoryStoreData());
  const state = new SpaceState(SPACE.spaceId);
  const said = async (...refused: SpaceRefusal[]) => (await refusalWarnings(store, state, SPACE, refused)).map((w) => `${w.device}/${w.seq} ${w.error}`);
  const d1 = '01'.repeat(8);
  const d2 = '02'.repeat(8);
  const forged = refusal(d1, 1, ErrorCode.IntegrityUnknownSigner, 'not-a-writer');
  assert.deepEqual(await said(forged), [`${d1}/1 KITH_INTEGRITY_UNKNOWN_SIGNER`]);
  assert.deepEqual(await said(forged), [], 'the same object, the same cause: said already');
  assert.deepEqual(await said(forged, refusal(d2, 4, ErrorCode.IntegrityChain)), [`${d2}/4 KITH_INTEGRITY_CHAIN`], 'another device: said, the first not again');
  assert.deepEqual(
    await said(refusal(d1, 1, ErrorCode.IntegrityCorrupt), refusal(d2, 4, ErrorCode.IntegrityChain)),
    [`${d1}/1 KITH_INTEGRITY_CORRUPT`],
    'another cause',
  );
  assert.deepEqual(await said(refusal(d1, 2, ErrorCode.IntegrityCorrupt)), [`${d1}/2 KITH_INTEGRITY_CORRUPT`], 'another object of the same device');
  assert.deepEqual(await said(), [], 'the remote mended: nothing to say, and the refusals are forgotten');
  assert.deepEqual(await said(forged), [`${d1}/1 KITH_INTEGRITY_UNKNOWN_SIGNER`], 'back after going: said again');
  const [w] = await refusalWarnings(store, state, SPACE, [refusal(d2, 9, ErrorCode.Forbidden, 'no-epoch-key')]);
  assert.equal(w?.code, 'KITH_SPACE_REFUSED');
  assert.equal(w?.space, SPACE.spaceId);
  assert.equal(w?.person, undefined, 'no certificate of the space lists the device');
  assert.equal(w?.reason, 'no-epoch-key');
  assert.match(w?.message ?? '', /^space "Family": refused segment 9 of device 0202020202020202: /);
});
