import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { bytesToHex, generateDeviceKeys, newEpochKey, recoveryKeys, toBase64url, type DeviceKeys } from '../crypto/index.js';
import { seededRandom } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { epochKeyCheck, epochKeyId, remoteKeys } from '../format/index.js';
import type { Remote } from '../ports/remote.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { openMemoryStore } from '../testing/memory-store.js';
import { Vault } from '../vault/vault.js';
import { epochBoxKey, openSealedKey, sealKeyTo, sealTo, verifySealedKeyAt, type KeySigner, type Sealer } from './epoch-seals.js';
import { readVault } from './join.js';
import { unb64 } from '../ports/store-meta.js';
import { DeviceRegistry, initialRegistry, type RegistryState } from './registry.js';

const vaultId = '00112233445566778899aabbccddeeff';
const rand = seededRandom(41);
const [opener, other, revoked] = [generateDeviceKeys(rand), generateDeviceKeys(rand), generateDeviceKeys(rand)] as const;
const recovery = recoveryKeys(rand(16));
const is = (code: ErrorCode) => (e: unknown) => KithError.is(e, code);

/**
 * A registry at epoch 2: epoch 1 opened under the version 1 rules, epoch 2
 * by `opener` with the check of `key2`; `revoked` was revoked.
 */
function registryWith(key2: Uint8Array, openerRevoked = false): DeviceRegistry {
  const state: RegistryState = initialRegistry(recovery.sign.pub, recovery.box.pub);
  const record = (d: DeviceKeys, gone: boolean) => ({
    name: d.deviceId,
    signPub: toBase64url(d.sign.pub),
    boxPub: toBase64url(d.box.pub),
    addedAt: 0,
    addedBy: 'recovery',
    ...(gone ? { revoked: { lastSeq: 0, at: 1, by: other.deviceId } } : {}),
  });
  state.devices = { [opener.deviceId]: record(opener, openerRevoked), [other.deviceId]: record(other, false), [revoked.deviceId]: record(revoked, true) };
  state.epoch = 2;
  state.openings = { 2: { by: opener.deviceId, check: bytesToHex(epochKeyCheck(vaultId, 2, key2)) } };
  return new DeviceRegistry(vaultId, state);
}

const signerOf = (d: DeviceKeys): KeySigner => ({ vaultId, signerId: d.deviceId, signerSeed: d.sign.seed, random: rand });
const sealerFor = (remote: Remote, registry: DeviceRegistry, d: DeviceKeys): Sealer => ({ remote, registry, ...signerOf(d) });

test('sealTo: a foreign object where the sealed key goes is replaced and checked on the remote; a remote that keeps it fails', async () => {
  const key2 = newEpochKey(rand);
  const registry = registryWith(key2);
  const objects = new Map<string, Uint8Array>();
  const remote = openMemoryRemote(objects);
  const place = remoteKeys.sealedKey(2, other.deviceId, epochKeyId(epochKeyCheck(vaultId, 2, key2)));
  // Squatted before (or raced in while) the opener wrote: a key of the squatter's choosing.
  const squat = await sealKeyTo(signerOf(revoked), 2, newEpochKey(rand), other.deviceId, other.box.pub);
  objects.set(place, squat);
  await assert.rejects(openSealedKey({ remote, registry, vaultId }, 2, other.deviceId, other.box.secret), is(ErrorCode.IntegrityUnknownSigner));
  await sealTo(sealerFor(remote, registry, opener), 2, key2, other.deviceId, other.box.pub);
  assert.notDeepEqual(objects.get(place), squat);
  assert.deepEqual(await openSealedKey({ remote, registry, vaultId }, 2, other.deviceId, other.box.secret), key2);
  // A remote that drops every write keeps the squat: the writer says so instead of reporting success.
  objects.set(place, squat);
  const deaf = Object.assign(Object.create(remote) as Remote, { put: async () => undefined });
  await assert.rejects(sealTo(sealerFor(deaf, registry, opener), 2, key2, other.deviceId, other.box.pub), is(ErrorCode.RemoteUnavailable));
});

test('openSealedKey: under a key check only the committed key opens, from an admitted signer or the opener (even revoked); links only from the opener', async () => {
  const key2 = newEpochKey(rand);
  const remote = openMemoryRemote();
  const keyId = epochKeyId(epochKeyCheck(vaultId, 2, key2));
  const put = async (signer: DeviceKeys, recipientId: string, recipientBoxPub: Uint8Array, epochKey: Uint8Array, versionOnePlace = false) =>
    remote.put(
      remoteKeys.sealedKey(2, recipientId, versionOnePlace ? undefined : keyId),
      await sealKeyTo(signerOf(signer), 2, epochKey, recipientId, recipientBoxPub),
    );
  const open = (registry: DeviceRegistry, recipientId: string, boxSecret: Uint8Array) =>
    openSealedKey({ remote, registry, vaultId }, 2, recipientId, boxSecret);
  // An admitted device seals a key of its own choosing: well signed, refused for failing the check.
  await put(other, 'recovery', recovery.box.pub, newEpochKey(rand));
  await assert.rejects(open(registryWith(key2), 'recovery', recovery.box.secret), is(ErrorCode.IntegrityCorrupt));
  // The committed key, re-sealed by an admitted device (pairing, restore, password): accepted.
  await put(other, 'recovery', recovery.box.pub, key2);
  assert.deepEqual(await open(registryWith(key2), 'recovery', recovery.box.secret), key2);
  // The opener's own seal stays good after the opener is itself revoked.
  await put(opener, other.deviceId, other.box.pub, key2);
  assert.deepEqual(await open(registryWith(key2, true), other.deviceId, other.box.secret), key2);
  // The version 1 place of this epoch is never read.
  await put(opener, revoked.deviceId, revoked.box.pub, key2, true);
  assert.equal(await open(registryWith(key2), revoked.deviceId, revoked.box.secret), undefined);
  // A previous link: only the opener's counts, even from another admitted device that holds the key.
  const linkBox = generateDeviceKeys(rand).box;
  await put(other, 'previous', linkBox.pub, newEpochKey(rand));
  await assert.rejects(open(registryWith(key2), 'previous', linkBox.secret), is(ErrorCode.IntegrityUnknownSigner));
  const key1 = newEpochKey(rand);
  await put(opener, 'previous', linkBox.pub, key1);
  assert.deepEqual(await open(registryWith(key2), 'previous', linkBox.secret), key1, 'epoch 1 (version 1 rules) has no check to pass');
});

test('openSealedKey: an epoch opened under the version 1 rules reads its keys at the old place, from any admitted signer', async () => {
  const remote = openMemoryRemote();
  const key1 = newEpochKey(rand);
  const registry = registryWith(newEpochKey(rand));
  await remote.put(remoteKeys.sealedKey(1, other.deviceId), await sealKeyTo(signerOf(opener), 1, key1, other.deviceId, other.box.pub));
  assert.deepEqual(await openSealedKey({ remote, registry, vaultId }, 1, other.deviceId, other.box.secret), key1);
});

test('a vault whose epoch 1 was opened by a version 1 entry (keys at the old places) still reads, and a revocation on top of it links back', async () => {
  const remote = openMemoryRemote();
  const deps = (seed: number) => ({ random: seededRandom(seed), now: () => 1_767_225_600_000 + seed });
  const aStore = openMemoryStore();
  const { vault: a, recoveryCode } = await Vault.create({ store: aStore, remote, remoteUrl: 'memory:', deviceName: 'A', deps: deps(61) });
  await a.put('n', 'zero', { v: 0 });
  await a.sync();
  const b = await Vault.restore({ store: openMemoryStore(), remote, remoteUrl: 'memory:', recoveryCode, deviceName: 'B', deps: deps(62) });
  const c = await Vault.restore({ store: openMemoryStore(), remote, remoteUrl: 'memory:', recoveryCode, deviceName: 'C', deps: deps(63) });
  // What a build before key checks wrote to revoke C: keys/1/<recipient> and keys/1/previous, then a version 1 entry.
  const { registry } = await readVault(remote);
  const aSeed = unb64(((await aStore.read((tx) => tx.getMeta('device'))) as { signSeed: string }).signSeed);
  const key0 = unb64(((await aStore.read((tx) => tx.getMeta('epochs'))) as Record<string, string>)['0']!);
  const key1 = newEpochKey(rand);
  const seal = async (recipientId: string, recipientBoxPub: Uint8Array, epochKey: Uint8Array) =>
    remote.put(
      remoteKeys.sealedKey(1, recipientId),
      await sealKeyTo({ vaultId: a.vaultId, signerId: a.deviceId, signerSeed: aSeed, random: rand }, 1, epochKey, recipientId, recipientBoxPub),
    );
  for (const [id, pub] of registry.recipients()) if (id !== c.deviceId) await seal(id, pub, key1);
  await seal('previous', epochBoxKey(key1).pub, key0);
  const entry = await registry.append(remote, { kind: 'revoke', deviceId: c.deviceId, lastSeq: 0, epoch: 1 }, a.deviceId, aSeed, 1_767_225_700_000);
  assert.equal(entry.change.kind === 'revoke' && entry.change.keyCheck, undefined);
  // B reads and writes epoch 1; A (this build) then revokes B: epoch 2 under the key-check rules.
  await b.sync();
  await b.put('n', 'one', { v: 1 });
  await b.sync();
  await a.sync();
  assert.deepEqual(await a.get('n', 'one'), { id: 'one', v: 1 });
  await a.devices.revoke(b.deviceId);
  await a.put('n', 'two', { v: 2 });
  await a.sync();
  const fresh = await Vault.restore({ store: openMemoryStore(), remote, remoteUrl: 'memory:', recoveryCode, deps: deps(64) });
  await fresh.pull();
  for (const [id, v] of [
    ['zero', 0],
    ['one', 1],
    ['two', 2],
  ] as const)
    assert.deepEqual(await fresh.get('n', id), { id, v });
  // A check finds each epoch's keys where its own rules put them: epoch 1's at keys/1/, epoch 2's under its keyId.
  for (const v of [a, fresh]) {
    const r = await v.check();
    assert.deepEqual(r.problems, []);
    assert.equal(r.checked.keys, 12, 'epoch 0: A, B, C, recovery; 1: A, B, recovery, previous; 2: A, recovery, previous, the new device');
  }
  for (const v of [a, b, c, fresh]) await v.close();
});

test('verifySealedKeyAt: without any secret, the signers openSealedKey allows; every flipped bit refused; `admits` replaces only the "admitted now" test', async () => {
  const key2 = newEpochKey(rand);
  const registry = registryWith(key2);
  const rules = { registry, vaultId };
  const seal = (signer: DeviceKeys, recipientId: string) => sealKeyTo(signerOf(signer), 2, key2, recipientId, generateDeviceKeys(rand).box.pub);
  const openerLink = await seal(opener, 'previous');
  assert.equal(await verifySealedKeyAt(rules, 2, 'previous', openerLink), opener.deviceId);
  await assert.rejects(verifySealedKeyAt(rules, 2, 'previous', await seal(other, 'previous')), is(ErrorCode.IntegrityUnknownSigner));
  await assert.rejects(verifySealedKeyAt(rules, 2, other.deviceId, openerLink), is(ErrorCode.IntegrityCorrupt), 'addressed elsewhere');
  // A device revoked since: refused by the registry now, accepted by a judge of the time it sealed.
  const byRevoked = await seal(revoked, 'recovery');
  await assert.rejects(verifySealedKeyAt(rules, 2, 'recovery', byRevoked), is(ErrorCode.IntegrityUnknownSigner));
  assert.equal(await verifySealedKeyAt(rules, 2, 'recovery', byRevoked, (id) => registry.deviceSignPub(id)), revoked.deviceId);
  assert.equal(await verifySealedKeyAt(rules, 2, 'recovery', await seal(opener, 'recovery'), () => undefined), opener.deviceId, "the opener's seals stay good");
  await fc.assert(
    fc.asyncProperty(fc.nat(openerLink.length * 8 - 1), async (bit) => {
      const bad = openerLink.slice();
      bad[bit >> 3]! ^= 1 << (bit & 7);
      await assert.rejects(verifySealedKeyAt(rules, 2, 'previous', bad), (e: unknown) => e instanceof KithError && e.code.startsWith('KITH_'));
    }),
    { numRuns: 200 },
  );
});
