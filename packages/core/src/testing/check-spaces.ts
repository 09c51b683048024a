/**
 * @module testing/check-spaces
 * What the check scenarios put on a vault's remote to check the spaces'
 * objects: the person's identity sealed to every active device, a shared
 * space under `spaces/<spaceId>/` (a membership chain, device
 * certificates), a declined invite, and a second space with key epochs
 * and their sealed keys, written with the spaces layer's
 * own writers by a device of the vault.
 */
import { base64 } from '@scure/base';
import type { Deps } from '../base/deps.js';
import { decodeVaultHeader, remoteKeys } from '../format/index.js';
import { DeviceRegistry, initialRegistry } from '../identity/registry.js';
import { decorateRemote } from '../ports/capabilities.js';
import type { Remote } from '../ports/remote.js';
import type { Store } from '../ports/store.js';
import { openMemoryRemote } from './memory-remote.js';
import { DeviceCertificates, publishDeviceCert, type CertifiedDevice } from '../spaces/device-cert.js';
import { answerInvite, closeInvite, inviteKey, offerInvite, readInviteAnswer } from '../spaces/invite.js';
import { appendMembership, createSpace, type Membership } from '../spaces/membership.js';
import { membershipKey } from '../spaces/membership-entry.js';
import { personKeysFromSecret, publishIdentity, type PersonKeys } from '../spaces/person.js';
import { shareEpochKey, spaceSealedKeyKey } from '../spaces/epochs.js';
import { startEpoch } from '../spaces/epoch-start.js';
import { SpaceState } from '../spaces/space-state.js';
import { actorOf, certify, testPerson, type TestDevice, type TestPerson } from './space-people.js';

/** `remote` seen from `prefix`: a space's root on a folder or bucket. */
export function underPrefix(remote: Remote, prefix: string): Remote {
  return decorateRemote(remote, {
    get: (k, o) => remote.get(prefix + k, o),
    head: (k, o) => remote.head(prefix + k, o),
    put: (k, b, o) => remote.put(prefix + k, b, o),
    delete: (k, o) => remote.delete(prefix + k, o),
    list: async (p, o) => (await remote.list(prefix + p, o)).map((i) => ({ ...i, key: i.key.slice(prefix.length) })),
  });
}

/** A device's signing seed and box secret, as its store holds them (no local passphrase). */
export async function deviceSecrets(store: Store): Promise<{ signSeed: Uint8Array; boxSecret: Uint8Array }> {
  const d = (await store.read((tx) => tx.getMeta('device'))) as { signSeed: string; boxSecret: string };
  return { signSeed: base64.decode(d.signSeed), boxSecret: base64.decode(d.boxSecret) };
}

/** The vault's registry as the remote holds it. */
export async function remoteRegistry(remote: Remote, vaultId: string): Promise<DeviceRegistry> {
  const h = await decodeVaultHeader((await remote.get(remoteKeys.vault))!);
  const reg = new DeviceRegistry(vaultId, initialRegistry(h.recoverySignPub, h.recoveryBoxPub));
  await reg.sync(remote);
  return reg;
}

export interface SpaceFixture {
  readonly person: PersonKeys;
  /** The members added to the space: bob a writer, carol a reader then a writer. */
  readonly bob: PersonKeys;
  readonly carol: PersonKeys;
  readonly space: Membership;
  /** The space's root on the remote, `spaces/<spaceId>/`. */
  readonly root: string;
  /** The keys written: identities, then the space's, then the invite's. */
  readonly keys: string[];
  /** The invite's answer and done (its offer was deleted when answered). */
  readonly invite: { readonly answer: string; readonly done: string; readonly offer: string };
}

/** Founds a space of `founder` under `spaces/<spaceId>/` of `remote`. */
export async function foundSpace(remote: Remote, founder: PersonKeys, deps: Deps): Promise<{ space: Membership; root: string }> {
  // The spaceId comes from entry 1: found the space aside, then copy that entry to its root.
  const aside = openMemoryRemote(new Map());
  const space = await createSpace(aside, founder, deps);
  const root = `spaces/${space.spaceId}/`;
  await remote.put(root + membershipKey(1), (await aside.get(membershipKey(1)))!);
  return { space, root };
}

export const person = (n: number): PersonKeys => personKeysFromSecret(new Uint8Array(32).fill(n));

/**
 * Writes the fixture through `remote` as device `signerId` (its signing
 * seed `signSeed`) of `vaultId`: the identity of person 0x41 sealed to every
 * active device; a space founded by that person with 4 entries (create,
 * add bob writer, add carol reader, carol becomes a writer); certificates
 * version 1 and 2 of the founder and 1 of bob; an invite of dave that the
 * founder declined.
 */
export async function writeSpaceFixture(remote: Remote, vaultId: string, signerId: string, signSeed: Uint8Array, deps: Deps): Promise<SpaceFixture> {
  const before = new Set((await remote.list('')).map((i) => i.key));
  const [alice, bob, carol, dave] = [0x41, 0x42, 0x43, 0x44].map(person) as [PersonKeys, PersonKeys, PersonKeys, PersonKeys];
  const reg = await remoteRegistry(remote, vaultId);
  const active = reg.recipients().filter(([id]) => id !== 'recovery' && id !== 'password');
  await publishIdentity(
    remote,
    { vaultId, person: alice, signerId, signerSeed: signSeed, random: deps.random },
    active.map(([deviceId, boxPub]) => ({ deviceId, boxPub })),
  );
  const { space, root } = await foundSpace(remote, alice, deps);
  const s = underPrefix(remote, root);
  await appendMembership(s, space, alice, { kind: 'add', person: bob, role: 'writer' }, deps);
  await appendMembership(s, space, alice, { kind: 'add', person: carol, role: 'reader' }, deps);
  await appendMembership(s, space, alice, { kind: 'role', personId: carol.personId, role: 'writer' }, deps);
  const device = (n: number): CertifiedDevice => ({ deviceId: String(n).repeat(16), signPub: new Uint8Array(32).fill(n), boxPub: new Uint8Array(32).fill(n) });
  const aliceCerts = new DeviceCertificates(alice);
  await publishDeviceCert(s, aliceCerts, alice, [device(1)], deps.now());
  await publishDeviceCert(s, aliceCerts, alice, [device(1), device(2)], deps.now());
  await publishDeviceCert(s, new DeviceCertificates(bob), bob, [device(3)], deps.now());
  const pending = await offerInvite(remote, { spaceId: space.spaceId, role: 'reader', admin: alice, chain: space.pin, ttlMs: 600_000 }, deps);
  await answerInvite(remote, pending.code, dave, 'Dave', deps);
  await readInviteAnswer(remote, pending, deps);
  await closeInvite(remote, pending, { ok: false, reason: 'declined' }, deps);
  const id = pending.c.inviteId;
  const keys = (await remote.list('')).map((i) => i.key).filter((k) => !before.has(k));
  return {
    person: alice,
    bob,
    carol,
    space,
    root,
    keys,
    invite: { answer: inviteKey(id, 'answer'), done: inviteKey(id, 'done'), offer: inviteKey(id, 'offer') },
  };
}

export interface EpochSpaceFixture {
  readonly state: SpaceState;
  readonly root: string;
  readonly founder: TestPerson;
  /** A writer, removed after epoch 0: epoch 1 cuts his device. */
  readonly bob: TestPerson;
  readonly carol: TestPerson;
  /** The keys written (all under `root`). */
  readonly keys: string[];
  /** Where epoch `epoch`'s key is sealed to `device`. */
  sealedAt(epoch: number, device: TestDevice): string;
}

/**
 * Writes a second space with key epochs under `spaces/<spaceId>/` of
 * `remote`, with people of its own (their certificates are in no other
 * space): the founder (devices 0x61, 0x62) starts epoch 0; bob (0x63) and
 * carol (0x64) join as writers and receive its key; bob is removed and
 * epoch 1 reaches the founder's and carol's devices, cutting bob's.
 */
export async function writeEpochSpaceFixture(remote: Remote, deps: Deps): Promise<EpochSpaceFixture> {
  const before = new Set((await remote.list('')).map((i) => i.key));
  const founder = testPerson(0x51, [0x61, 0x62]);
  const [bob, carol] = [testPerson(0x52, [0x63]), testPerson(0x53, [0x64])];
  const { space, root } = await foundSpace(remote, founder.keys, deps);
  const s = underPrefix(remote, root);
  const state = new SpaceState(space.spaceId);
  const noSegments = async (): Promise<number> => 0;
  const start = async () => {
    await state.refresh(s);
    return startEpoch(s, { m: state.m, epochs: state.epochs, certs: state.certs, actor: actorOf(founder), lastSeqOf: noSegments }, deps);
  };
  await certify(s, founder, deps.now());
  const first = await start();
  for (const p of [bob, carol]) {
    await appendMembership(s, state.m, founder.keys, { kind: 'add', person: p.keys, role: 'writer' }, deps);
    await certify(s, p, deps.now());
  }
  await state.refresh(s);
  await shareEpochKey(s, { m: state.m, epochs: state.epochs, certs: state.certs, epochKey: first.epochKey!, actor: actorOf(founder) }, deps);
  await appendMembership(s, state.m, founder.keys, { kind: 'remove', personId: bob.keys.personId }, deps);
  if ((await start()).epoch !== 1) throw new Error('the fixture expected epoch 1 to start');
  const keys = (await remote.list('')).map((i) => i.key).filter((k) => !before.has(k));
  return { state, root, founder, bob, carol, keys, sealedAt: (epoch, device) => root + spaceSealedKeyKey(state.epochs.entry(epoch)!, device.deviceId) };
}
