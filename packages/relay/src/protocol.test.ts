import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { KithError } from '@kith/core/adapter';
import { bytesToHex, hexToBytes, remoteAuthMessage, remoteDeviceKey, verifyRemoteAuth } from '@kith/core/relay';
import { CHALLENGE_TAG_BYTES, challengeBody, decodeChallenge } from './protocol.js';

/** `name = hex` values of docs/FORMAT.md (continuation lines indented), the spec the vectors are checked against. */
function formatVectors(): Map<string, string> {
  const text = readFileSync(new URL('../../../docs/FORMAT.md', import.meta.url), 'utf8');
  const out = new Map<string, string>();
  let last: string | undefined;
  for (const line of text.split('\n')) {
    const m = /^(\w+) = ([0-9a-f]+)$/.exec(line);
    if (m) out.set((last = m[1]!), m[2]!);
    else if (last && /^ {4}[0-9a-f]+$/.test(line)) out.set(last, out.get(last)! + line.trim());
    else last = undefined;
  }
  return out;
}

const vaultId = '00112233445566778899aabbccddeeff';
const fields = { vault: 'family', signer: '0102030405060708', expiresAt: 1767225660000, nonce: new Uint8Array(16).fill(0x88) };

describe('relay auth challenge (docs/FORMAT.md "Remote authentication")', () => {
  test('the test vector: challenge bytes and the device signature over them', async () => {
    const v = formatVectors();
    const challenge = new Uint8Array([...challengeBody(fields), ...new Uint8Array(CHALLENGE_TAG_BYTES).fill(0x99)]);
    assert.equal(bytesToHex(challenge), v.get('authChallenge'));
    const key = remoteDeviceKey(vaultId, fields.signer, new Uint8Array(32).fill(0x11));
    assert.equal(bytesToHex(key.signPub), v.get('deviceSignPub'), 'the device of the format vectors');
    const signature = await key.sign(challenge);
    assert.equal(bytesToHex(signature), v.get('authSignature'));
    assert.equal(await verifyRemoteAuth(vaultId, key.signPub, challenge, signature), true);
    // Bound to the vault id and to every challenge byte.
    assert.equal(await verifyRemoteAuth('ff112233445566778899aabbccddeeff', key.signPub, challenge, signature), false);
    const flipped = challenge.slice();
    flipped[10]! ^= 1;
    assert.equal(await verifyRemoteAuth(vaultId, key.signPub, flipped, signature), false);
    assert.equal(await verifyRemoteAuth('not hex', key.signPub, challenge, signature), false);
  });

  test('the signed message starts with its own domain, which no object signature does', () => {
    const message = remoteAuthMessage(vaultId, Uint8Array.of(1, 2));
    assert.equal(bytesToHex(message.subarray(0, 20)), bytesToHex(new TextEncoder().encode('kith/v1/remote-auth\0')));
    assert.deepEqual(message.subarray(20, 36), hexToBytes(vaultId));
    for (const other of ['kith/v1/vault', 'kith/v1/registry', 'kith/v1/sealed-key', 'kith/v1/segment', 'kith/v1/head', 'kith/v1/pairing/join']) {
      const o = new TextEncoder().encode(other);
      assert.notDeepEqual(message.subarray(0, o.length), o, other);
    }
  });

  test('decode round-trips and refuses anything malformed', () => {
    const bytes = new Uint8Array([...challengeBody(fields), ...new Uint8Array(32)]);
    const d = decodeChallenge(bytes);
    assert.equal(d.vault, 'family');
    assert.equal(d.signer, fields.signer);
    assert.equal(d.expiresAt, fields.expiresAt);
    assert.deepEqual(d.nonce, fields.nonce);
    assert.deepEqual(d.body, bytes.subarray(0, bytes.length - 32));
    const bad: Uint8Array[] = [
      new Uint8Array(0),
      Uint8Array.of(1),
      bytes.subarray(0, bytes.length - 1),
      new Uint8Array([...bytes, 0]),
      Uint8Array.from(bytes, (b, i) => (i === 0 ? 2 : b)),
    ];
    const badSigner = bytes.slice();
    badSigner[9] = 0x5a; // a 'Z' as the signer's first character: not hex
    bad.push(badSigner);
    for (const b of bad)
      assert.throws(
        () => decodeChallenge(b),
        (e: unknown) => KithError.is(e) && e.code === 'KITH_BAD_INPUT',
        bytesToHex(b.subarray(0, 12)),
      );
    assert.throws(
      () => challengeBody({ ...fields, signer: 'root' }),
      (e: unknown) => KithError.is(e) && e.code === 'KITH_BAD_INPUT',
    );
  });
});
