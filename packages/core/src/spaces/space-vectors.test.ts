import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boxKeyFromSecret, bytesToHex, hexToBytes, signingKeyFromSeed } from '../crypto/index.js';
import { committed, quotedVectors } from '../format/vectors.test.support.js';
import { buildSpaceVectors, SPACE_VECTOR_INPUTS, spaceVectorChanges } from '../testing/space-vectors.js';
import { openEpochKey } from '../format/sealed-key.js';
import { decodeSegment } from '../format/segment.js';
import { decodeHead } from '../format/head.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { decodePayload } from '../model/ops.js';
import { VECTOR_INPUTS } from '../testing/format-vectors.js';
import { decodeSpaceHead } from './space-head.js';
import { checkSpaceWriter } from './writer.js';
import { DeviceCertificates } from './device-cert.js';
import { SpaceEpochs, spaceSealedKeyKey } from './epochs.js';
import { parseInviteCode } from './invite.js';
import { Membership } from './membership.js';
import { openIdentity, personKeysFromSecret } from './person.js';

const spaces = (committed as unknown as { spaces: { inputs: unknown; outputs: Awaited<ReturnType<typeof buildSpaceVectors>> } }).spaces;
const V = SPACE_VECTOR_INPUTS;

test('space vectors: the fixed inputs encode to exactly the committed bytes', async () => {
  assert.deepEqual(spaces.inputs, JSON.parse(JSON.stringify(V)));
  assert.deepEqual(await buildSpaceVectors(), spaces.outputs);
});

test('space vectors: the committed bytes decode back to the inputs', async () => {
  const out = spaces.outputs;
  const founder = personKeysFromSecret(hexToBytes(V.founderSecret));
  const member = personKeysFromSecret(hexToBytes(V.memberSecret));
  const device = { sign: signingKeyFromSeed(hexToBytes(V.deviceSignSeed)), box: boxKeyFromSecret(hexToBytes(V.deviceBoxSecret)) };
  const { person } = await openIdentity(hexToBytes(out.sealedIdentity), {
    vaultId: V.vaultId,
    recipientId: V.deviceId,
    recipientBoxSecret: device.box.secret,
    signerPub: (id) => (id === V.deviceId ? device.sign.pub : undefined),
  });
  assert.equal(bytesToHex(person.secret), V.founderSecret);
  assert.equal(person.personId, out.founderPersonId);
  // The chain verifies entry by entry, with the role at every seq.
  const entries = out.membership.map(hexToBytes);
  const m = Membership.empty(out.spaceId);
  const changes = spaceVectorChanges();
  for (const [i, bytes] of entries.entries()) assert.deepEqual((await m.accept(bytes)).change, changes[i]);
  assert.deepEqual(
    out.membershipHashes,
    entries.map((_, i) => bytesToHex(m.hashAt(i + 1)!)),
  );
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6].map((seq) => m.roleAt(member.personId, seq)),
    [null, 'admin', 'writer', null, 'reader', null],
  );
  assert.deepEqual(
    m.members().map((x) => [x.personId, x.role]),
    [[founder.personId, 'admin']],
  );
  const certs = new DeviceCertificates(founder);
  const cert = await certs.accept(hexToBytes(out.deviceCert));
  assert.deepEqual(
    cert.devices.map((d) => d.deviceId),
    [V.deviceId, V.secondDeviceId],
  );
  assert.ok(certs.deviceAt(V.secondDeviceId, 1));
  assert.deepEqual(parseInviteCode(out.inviteCode), { inviteId: V.inviteId, secret: hexToBytes(V.inviteSecret) });
  // The key epochs verify against that chain and the founder's certificates, and epoch 0's key opens on the vector device.
  await certs.accept(hexToBytes(out.deviceCert2));
  const epochs = new SpaceEpochs(out.spaceId);
  const certsOf = (p: string) => (p === founder.personId ? certs : undefined);
  for (const bytes of out.spaceEpochs) await epochs.accept(hexToBytes(bytes), m, certsOf);
  assert.deepEqual(epochs.pin, { count: 2, hash: hexToBytes(out.spaceEpochHashes[1]!) });
  assert.deepEqual(epochs.entry(1)!.cuts, [{ deviceId: V.secondDeviceId, lastSeq: V.epochCutLastSeq }]);
  const { epochKey } = await openEpochKey(hexToBytes(out.spaceSealedKey), {
    vaultId: out.spaceId,
    epoch: 0,
    recipientId: V.deviceId,
    recipientBoxSecret: device.box.secret,
    signerPub: (id) => (id === V.deviceId ? device.sign.pub : undefined),
  });
  assert.equal(bytesToHex(epochKey), V.epochKeys[0]);
  assert.equal(out.spaceSealedKeyPlace, spaceSealedKeyKey(epochs.entry(0)!, V.deviceId));
  // The space's segment passes the writer check at the seq it names and opens under epoch 0's key; its head names it.
  const seg = await decodeSegment(hexToBytes(out.spaceSegment), {
    vaultId: out.spaceId,
    deviceId: V.deviceId,
    seq: 1,
    space: true,
    signPub: (c) => {
      const signPub = certs.deviceAt(c.deviceId, c.certVersion)!.signPub;
      checkSpaceWriter(m, certs, epochs, { ...c, signPub, segmentSeq: c.seq });
      return signPub;
    },
    epochKey: (e) => (e === 0 ? epochKey : undefined),
    maxPayloadBytes: 1 << 20,
  });
  assert.deepEqual(seg.space, { personId: founder.personId, membershipSeq: V.spaceSegmentMembershipSeq, certVersion: 1 });
  assert.deepEqual(decodePayload(seg.payload, undefined), VECTOR_INPUTS.ops);
  assert.equal(bytesToHex(seg.hash), out.spaceSegmentHash);
  assert.equal(out.spaceSegmentPlace, `segments/${V.deviceId}/000000000001`);
  const head = await decodeSpaceHead(hexToBytes(out.spaceHead), {
    spaceId: out.spaceId,
    deviceId: V.deviceId,
    signPub: (_, v) => certs.deviceAt(V.deviceId, v)!.signPub,
  });
  assert.deepEqual(
    [head.seq, bytesToHex(head.hash), head.membershipSeq, head.epochs, bytesToHex(head.epochHash)],
    [1, out.spaceSegmentHash, 6, 2, out.spaceEpochHashes[1]],
  );
  assert.deepEqual([...head.acks.applied], [[V.secondDeviceId, V.epochCutLastSeq]]);
  // Neither is read as a personal space's object: the version says which it is, under the signature.
  await assert.rejects(
    decodeSegment(hexToBytes(out.spaceSegment), {
      vaultId: out.spaceId,
      deviceId: V.deviceId,
      seq: 1,
      signPub: device.sign.pub,
      epochKey: () => epochKey,
      maxPayloadBytes: 1 << 20,
    }),
    (e: unknown) => KithError.is(e, ErrorCode.UnsupportedFormat),
  );
  await assert.rejects(decodeHead(hexToBytes(out.spaceHead), { vaultId: out.spaceId, deviceId: V.deviceId, signPub: device.sign.pub }), (e: unknown) =>
    KithError.is(e, ErrorCode.UnsupportedFormat),
  );
});

test("FORMAT.md's spaces sections quote the committed space vectors exactly", () => {
  const quoted = quotedVectors('## Person identity', '## Threat model');
  const out = spaces.outputs as unknown as Record<string, string | string[]>;
  const cut = (committed as unknown as { spacesCut: { outputs: Record<string, string[]> } }).spacesCut.outputs;
  const valueOf = (name: string): string | undefined => {
    const inCut = /^spacesCut\.(\w+)\[(\d)\]$/.exec(name);
    if (inCut) return cut[inCut[1]!]?.[Number(inCut[2])];
    const at = /^(\w+)\[(\d)\]$/.exec(name);
    return at ? (out[at[1]!] as string[])[Number(at[2])] : (out[name] as string);
  };
  assert.ok(quoted.size >= 10, `FORMAT.md quotes ${quoted.size} space vectors`);
  for (const [name, text] of quoted) assert.equal(text, valueOf(name), `FORMAT.md's ${name}`);
});
