import { test } from 'node:test';
import assert from 'node:assert/strict';
import { signingKeyFromSeed } from '../crypto/curves.js';
import { remoteDeviceKey, verifyRemoteAuth } from './remote-auth.js';

const VAULT = '00112233445566778899aabbccddeeff';

test('remoteDeviceKey derives its public key on first read, not when made (every vault open makes one)', () => {
  // A seed noble refuses shows when the derivation runs: not at construction, only when signPub is read.
  const key = remoteDeviceKey(VAULT, 'dev', new Uint8Array(31));
  assert.throws(() => key.signPub);
});

test("remoteDeviceKey: its public key is the seed's, stays the same object, and verifies its signatures", async () => {
  const seed = new Uint8Array(32).fill(7);
  const key = remoteDeviceKey(VAULT, 'dev', seed);
  assert.deepEqual(key.signPub, signingKeyFromSeed(seed).pub);
  assert.equal(key.signPub, key.signPub);
  const challenge = new Uint8Array(16).fill(3);
  assert.equal(await verifyRemoteAuth(VAULT, key.signPub, challenge, await key.sign(challenge)), true);
  assert.deepEqual({ ...key }.signPub, key.signPub);
});
