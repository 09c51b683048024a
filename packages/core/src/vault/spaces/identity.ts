/**
 * @module vault/spaces/identity
 * The person's identity in the vault (docs/FORMAT.md "Person identity"):
 * sealed to each of its devices at `keys/identity/<deviceId>` and to the
 * vault's recovery and password keys (`keys/identity/recovery|password`),
 * created on the person's first space operation, and sealed to a device
 * when it is paired (and by any device holding it to admitted devices and
 * keys that lack it). A device restored with the recovery code or the
 * password opens the copy sealed to that key and seals it to itself, so a
 * person who lost every device keeps their spaces.
 *
 * Created on first need, not by `Vault.create`: only vaults that use
 * spaces have one.
 *
 * Two devices creating it at the same moment: each first looks for
 * `keys/identity/*` of a device the registry admits (one there means the
 * person already has an identity: this device waits for it to be sealed
 * to it, which any device holding it does on its next space operation or
 * pairing). Otherwise it seals a new identity to every admitted device in
 * deviceId order with put-if-absent, starting with the lowest: the device
 * that loses the lowest slot has written nothing, stops, and takes what
 * the winner seals to it (KITH_REMOTE_UNAVAILABLE, reason
 * `identity-not-sealed`, until then). Limit: two devices that see
 * different registries (a device added between their reads) can start at
 * different slots and split the person; `kith check` reports identities
 * that name two people.
 */
import { ErrorCode, KithError, isIntegrityError } from '../../base/errors.js';
import { putIfAbsentHolds } from '../../ports/put-if-absent.js';
import type { Remote } from '../../ports/remote.js';
import type { EngineContext } from '../../sync/context.js';
import { newPersonKeys, openIdentity, publishIdentity, sealIdentity, sealedIdentityKey, type PersonKeys } from '../../spaces/person.js';

/** A device of the person, as the personal vault's registry admits it (not revoked). */
export interface OwnDevice {
  readonly deviceId: string;
  readonly signPub: Uint8Array;
  readonly boxPub: Uint8Array;
}

/** A recipient of the identity that is not a device: the vault's recovery or password key. */
export type KeyRecipient = 'recovery' | 'password';
const KEY_RECIPIENTS: readonly KeyRecipient[] = ['recovery', 'password'];

/** The recovery key, and the password key when a password is set, as identity recipients (`deviceId` = `recovery` / `password`). */
function keyRecipients(ctx: EngineContext): { deviceId: KeyRecipient; boxPub: Uint8Array }[] {
  return ctx.registry
    .recipients()
    .filter(([id]) => (KEY_RECIPIENTS as readonly string[]).includes(id))
    .map(([id, boxPub]) => ({ deviceId: id as KeyRecipient, boxPub }));
}

/** The person's devices the registry admits now, by deviceId. */
export function ownDevices(ctx: EngineContext): OwnDevice[] {
  const box = new Map(ctx.registry.recipients());
  return ctx.registry
    .devices()
    .filter(([, d]) => !d.revoked)
    .map(([deviceId]) => ({ deviceId, signPub: ctx.registry.deviceSignPub(deviceId)!, boxPub: box.get(deviceId)! }))
    .sort((a, b) => (a.deviceId < b.deviceId ? -1 : 1));
}

const sealer = (ctx: EngineContext, person: PersonKeys) => ({
  vaultId: ctx.vaultId,
  person,
  signerId: ctx.deviceId,
  signerSeed: ctx.signSeed,
  random: ctx.deps.random,
});

/** Seals the person's identity to a device just admitted (pairing), signed by this device. */
export async function sealIdentityTo(ctx: EngineContext, person: PersonKeys, device: { deviceId: string; boxPub: Uint8Array }): Promise<void> {
  await publishIdentity(ctx.remote, sealer(ctx, person), [device]);
}

/** This device's copy of the person's identity on the remote, or null. */
async function readOwn(ctx: EngineContext): Promise<PersonKeys | null> {
  const bytes = await ctx.remote.get(sealedIdentityKey(ctx.deviceId));
  if (!bytes) return null;
  const opened = await openIdentity(bytes, {
    vaultId: ctx.vaultId,
    recipientId: ctx.deviceId,
    recipientBoxSecret: ctx.boxSecret,
    // A signer revoked since sealed validly before (an identity object carries no epoch to judge it by).
    signerPub: (id) => ctx.registry.deviceSignPub(id),
  });
  return opened.person;
}

/**
 * The person's identity as this device holds it: read from the personal
 * space, or created on first need in an old vault (see the module's note
 * on racing devices). Then seals it to admitted devices that lack it
 * (paired by an older build, or restored), so they can act for the person.
 */
export async function loadIdentity(ctx: EngineContext): Promise<PersonKeys>;
export async function loadIdentity(ctx: EngineContext, o: { create: false }): Promise<PersonKeys | null>;
export async function loadIdentity(ctx: EngineContext, o: { create?: boolean } = {}): Promise<PersonKeys | null> {
  const devices = ownDevices(ctx);
  const sealed = new Set((await ctx.remote.list('keys/identity/')).map((o) => o.key.slice('keys/identity/'.length)));
  let person = sealed.has(ctx.deviceId) ? await readOwn(ctx) : null;
  if (!person) {
    // A copy for the recovery or password key means the person has one too (this device, restored, could not open it).
    if (devices.some((d) => sealed.has(d.deviceId)) || KEY_RECIPIENTS.some((k) => sealed.has(k))) throw notYetSealed();
    if (o.create === false) return null;
    person = await createFirst(ctx.remote, ctx, devices);
  }
  const missing = [...devices, ...keyRecipients(ctx)].filter((d) => !sealed.has(d.deviceId) && d.deviceId !== ctx.deviceId);
  if (missing.length > 0) await publishIdentity(ctx.remote, sealer(ctx, person), missing);
  return person;
}

/** A new identity sealed to every admitted device, lowest deviceId first, with put-if-absent: losing the first slot means another device won. */
async function createFirst(remote: Remote, ctx: EngineContext, devices: readonly OwnDevice[]): Promise<PersonKeys> {
  const person = newPersonKeys(ctx.deps.random);
  for (const [i, d] of devices.entries()) {
    const bytes = await sealIdentity({ ...sealer(ctx, person), recipientId: d.deviceId, recipientBoxPub: d.boxPub });
    const key = sealedIdentityKey(d.deviceId);
    if (await putIfAbsentHolds(remote, key, bytes)) continue;
    if (i === 0) return (await readOwn(ctx)) ?? Promise.reject(notYetSealed());
    // A later slot taken: the device that won the first slot wrote it; ours stays the person's (it holds the first).
  }
  // Only the winner reaches here: the copies that survive losing every device.
  await publishIdentity(remote, sealer(ctx, person), keyRecipients(ctx));
  return person;
}

/**
 * Seals the identity (again) to the recovery or password key just set,
 * replacing the copy sealed to the key it replaces. A device that does
 * not hold the identity deletes that stale copy instead, so a device that
 * holds it seals it to the new key on its next space operation.
 */
export async function resealIdentityTo(ctx: EngineContext, to: KeyRecipient, boxPub: Uint8Array): Promise<void> {
  let person: PersonKeys | null;
  try {
    person = await loadIdentity(ctx, { create: false });
  } catch (e) {
    if (!KithError.is(e, ErrorCode.RemoteUnavailable)) throw e;
    person = null;
  }
  if (person) await publishIdentity(ctx.remote, sealer(ctx, person), [{ deviceId: to, boxPub }]);
  else await ctx.remote.delete(sealedIdentityKey(to));
}

/** What a device just restored with the recovery code or the password has: the registry, its keys, and the key it proved. */
export interface RestoredDevice {
  readonly remote: Remote;
  readonly vaultId: string;
  readonly registry: EngineContext['registry'];
  readonly via: KeyRecipient;
  readonly viaBoxSecret: Uint8Array;
  readonly deviceId: string;
  readonly signSeed: Uint8Array;
  readonly boxPub: Uint8Array;
  readonly random: EngineContext['deps']['random'];
}

/**
 * Opens the identity sealed to the key `d` was restored with and seals it
 * to the new device, signed by it. Returns the personId, or null when
 * there is none to open (no spaces, an old vault without that copy, or a
 * copy sealed to a replaced key): the device then waits for another one to
 * seal it (KITH_REMOTE_UNAVAILABLE, reason `identity-not-sealed`).
 */
export async function adoptRestoredIdentity(d: RestoredDevice): Promise<string | null> {
  const bytes = await d.remote.get(sealedIdentityKey(d.via));
  if (!bytes) return null;
  let person: PersonKeys;
  try {
    ({ person } = await openIdentity(bytes, {
      vaultId: d.vaultId,
      recipientId: d.via,
      recipientBoxSecret: d.viaBoxSecret,
      signerPub: (id) => d.registry.deviceSignPub(id),
    }));
  } catch (e) {
    // Sealed to a key replaced since (by an older build), or damaged: `kith check` says so; restoring goes on without it.
    if (isIntegrityError(e)) return null;
    throw e;
  }
  const signer = { vaultId: d.vaultId, person, signerId: d.deviceId, signerSeed: d.signSeed, random: d.random };
  await publishIdentity(d.remote, signer, [{ deviceId: d.deviceId, boxPub: d.boxPub }]);
  return person.personId;
}

const notYetSealed = (): KithError =>
  new KithError(ErrorCode.RemoteUnavailable, 'the person’s identity is not sealed to this device yet', {
    hint: 'another device of this vault holds it and seals it to this one on its next sync; sync that device, then try again',
    reason: 'identity-not-sealed',
  });
