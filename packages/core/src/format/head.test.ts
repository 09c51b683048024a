/** Heads of version 3: acknowledgements round-trip, are signed, and have one canonical encoding. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { seededRandom } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { bytesToHex, generateDeviceKeys } from '../crypto/index.js';
import { decodeHead, encodeHead, HEAD_DOMAIN, type HeadAcks } from './head.js';
import { ObjectType, ObjectWriter } from './framing.js';

const is = (code: ErrorCode) => (e: unknown) => KithError.is(e, code);
const random = seededRandom(15);
const device = generateDeviceKeys(random);
const vaultId = '00112233445566778899aabbccddeeff';
const opts = { vaultId, deviceId: device.deviceId, signPub: device.sign.pub };
const base = {
  vaultId,
  deviceId: device.deviceId,
  seq: 7,
  hash: new Uint8Array(32).fill(1),
  registrySeq: 2,
  registryHash: new Uint8Array(32).fill(2),
  at: 1_800_000_000_000,
  signSeed: device.sign.seed,
};

test('head v3: any acknowledgement vector round-trips, whatever order it is given in', async () => {
  const deviceId = fc.uint8Array({ minLength: 8, maxLength: 8 }).map(bytesToHex);
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(fc.tuple(deviceId, fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })), { selector: ([d]) => d, maxLength: 20 }),
      fc.nat({ max: Number.MAX_SAFE_INTEGER }),
      async (entries, pulledAt) => {
        const applied = new Map(entries.filter(([d]) => d !== device.deviceId));
        const bytes = await encodeHead({ ...base, acks: { pulledAt, applied } });
        assert.equal(bytes[5], 3);
        const head = await decodeHead(bytes, opts);
        assert.equal(head.acks?.pulledAt, pulledAt);
        assert.deepEqual(new Map([...(head.acks?.applied ?? [])].sort()), new Map([...applied].sort()));
        // Canonical: the same vector in another order gives the same bytes.
        const reversed = await encodeHead({ ...base, acks: { pulledAt, applied: new Map([...applied].reverse()) } });
        assert.deepEqual(reversed, bytes);
      },
    ),
    { numRuns: 40 },
  );
});

test('head v3: a device with nothing applied is left out; an empty vector is a valid head', async () => {
  const head = await decodeHead(await encodeHead({ ...base, acks: { pulledAt: 0, applied: new Map([['0a0a0a0a0a0a0a0a', 0]]) } }), opts);
  assert.deepEqual(head.acks, { pulledAt: 0, applied: new Map() });
});

/** A signed v3 head whose acknowledgement block is written raw (what a buggy or hostile writer could sign). */
async function rawHead(block: (w: ObjectWriter) => void): Promise<Uint8Array> {
  const w = new ObjectWriter(ObjectType.Head, 3)
    .hex(device.deviceId, 8)
    .u64(base.seq)
    .bytes(base.hash)
    .u64(base.registrySeq)
    .bytes(base.registryHash)
    .u64(base.at);
  block(w.u64(0));
  return w.sign(HEAD_DOMAIN, vaultId, device.sign.seed);
}
const count = (w: ObjectWriter, n: number) => w.u8(n >> 8).u8(n & 0xff);

test('head v3: signed but not canonical acknowledgements are refused as corrupt', async () => {
  const [x, y] = ['1111111111111111', '2222222222222222'];
  const refused = async (block: (w: ObjectWriter) => void, why: RegExp) => {
    await assert.rejects(decodeHead(await rawHead(block), opts), (e: unknown) => is(ErrorCode.IntegrityCorrupt)(e) && why.test((e as Error).message));
  };
  // The well-formed control decodes.
  assert.equal((await decodeHead(await rawHead((w) => count(w, 2).hex(x, 8).u8(1).hex(y, 8).u8(2)), opts)).acks?.applied.get(y), 2);
  await refused((w) => count(w, 2).hex(y, 8).u8(1).hex(x, 8).u8(2), /ascending/);
  await refused((w) => count(w, 2).hex(x, 8).u8(1).hex(x, 8).u8(2), /ascending/);
  await refused((w) => count(w, 1).hex(device.deviceId, 8).u8(1), /own device/);
  await refused((w) => count(w, 1).hex(x, 8).u8(0), /minimally/);
  await refused((w) => count(w, 1).hex(x, 8).u8(0x81).u8(0), /minimally/);
  await refused((w) => count(w, 1).hex(x, 8).bytes(new Uint8Array(9).fill(0xff)), /longer than 8 bytes/);
  await refused(
    (w) =>
      count(w, 1)
        .hex(x, 8)
        .bytes(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)),
    /out of range/,
  );
  await refused((w) => count(w, 2).hex(x, 8).u8(1), /truncated|wrong length/);
  await refused((w) => count(w, 4097), /4097 acknowledgements/);
});

test('head v3: the acknowledgements are signed (one byte changed is refused) and a writer refuses a vector naming itself', async () => {
  const acks: HeadAcks = { pulledAt: 5, applied: new Map([['3333333333333333', 130]]) };
  const bytes = await encodeHead({ ...base, acks });
  for (const at of [bytes.length - 65, bytes.length - 66, bytes.length - 70]) {
    const t = bytes.slice();
    t[at]! ^= 0x01;
    await assert.rejects(decodeHead(t, opts), is(ErrorCode.IntegrityCorrupt), `byte ${at}`);
  }
  await assert.rejects(encodeHead({ ...base, acks: { pulledAt: 0, applied: new Map([[device.deviceId, 1]]) } }), is(ErrorCode.Internal));
});
