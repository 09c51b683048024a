/**
 * @module vault/device-admin
 * What `vault.devices` changes: rename, revoke (a new epoch), pairing,
 * the vault password and the recovery code. Every change is a signed
 * registry entry; each runs after the session's other remote work.
 * `Devices` imports it (through on-demand.ts) on the first such call, so a
 * page that only opens a vault and syncs never fetches pairing, epoch
 * sealing or the key derivations behind them.
 */
import { ErrorCode, KithError, isIntegrityError } from '../base/errors.js';
import { bytesToHex, checkPassword, generateRecoveryCode, newArgon2Params, newEpochKey, passwordKeys, recoveryKeys, sha256 } from '../crypto/index.js';
import { remoteKeys, type RegistryChange } from '../format/index.js';
import { META, readMeta, writeMeta, type Cursor, type DeviceMeta } from '../ports/store-meta.js';
import { publishEpoch, sealerOf, sealTo } from '../identity/epoch-seals.js';
import { loadEpochKey } from '../identity/epochs.js';
import { checkDeviceName, unknownDevice } from '../identity/join.js';
import { invitePairing, type PairOptions } from '../identity/pairing.js';
import type { EngineContext } from '../sync/context.js';
import { catchUpRegistry } from '../sync/catch-up.js';
import { pull } from '../sync/pull.js';
import { push } from '../sync/push.js';
import type { VaultSession } from './session.js';
import { loadIdentity, resealIdentityTo } from './spaces/identity.js';

/** Runs `fn` after the session's other remote work, with the remote open and the registry caught up. */
export async function withRegistry<T>(s: VaultSession, fn: (ctx: EngineContext) => Promise<T>): Promise<T> {
  return s.exclusive(async () => {
    const ctx = await s.connect();
    await catchUpRegistry(ctx);
    return fn(ctx);
  });
}

export async function rename(s: VaultSession, deviceId: string, name: string): Promise<void> {
  const clean = checkDeviceName(name);
  await withRegistry(s, async (ctx) => {
    if (!ctx.registry.device(deviceId)) throw unknownDevice(deviceId);
    await append(ctx, { kind: 'rename', deviceId, name: clean });
    if (deviceId === ctx.deviceId) {
      await s.store.write(async (tx) => {
        const device = (await readMeta<DeviceMeta>(tx, META.device))!;
        await writeMeta<DeviceMeta>(tx, META.device, { ...device, name: clean });
      });
    }
  });
}

export async function revoke(s: VaultSession, deviceId: string): Promise<void> {
  await withRegistry(s, async (ctx) => {
    const target = ctx.registry.device(deviceId);
    if (!target) throw unknownDevice(deviceId);
    if (target.revoked) throw new KithError(ErrorCode.BadInput, `device ${deviceId} is already revoked`);
    if (deviceId === ctx.deviceId) throw new KithError(ErrorCode.BadInput, 'a device cannot revoke itself', { hint: 'revoke it from another device' });
    // Everything the device pushed up to now stays valid; pull it first so it is not lost.
    await pull(ctx).catch((e: unknown) => {
      if (!isIntegrityError(e)) throw e;
    });
    const lastSeq = (await s.store.read((tx) => readMeta<Cursor>(tx, META.cursor(deviceId))))?.seq ?? 0;
    await rotateEpoch(
      ctx,
      (epoch, keyCheck) => ({ kind: 'revoke', deviceId, lastSeq, epoch, keyCheck }),
      (draft) => draft.filter(([id]) => id !== deviceId),
    );
  });
}

export async function rotateRecoveryCode(s: VaultSession): Promise<string> {
  return withRegistry(s, async (ctx) => {
    const { code, secret } = generateRecoveryCode(ctx.deps.random);
    const fresh = recoveryKeys(secret);
    await rotateEpoch(
      ctx,
      (epoch, keyCheck) => ({ kind: 'recovery', signPub: fresh.sign.pub, boxPub: fresh.box.pub, epoch, keyCheck }),
      (draft) => draft.map(([id, pub]) => (id === 'recovery' ? [id, fresh.box.pub] : [id, pub])),
    );
    await resealIdentityTo(ctx, 'recovery', fresh.box.pub);
    return code;
  });
}

export async function setPassword(s: VaultSession, password: string): Promise<void> {
  checkPassword(password);
  await withRegistry(s, async (ctx) => {
    const params = newArgon2Params(ctx.deps.random);
    const keys = await passwordKeys(password, params);
    await append(ctx, { kind: 'password', signPub: keys.sign.pub, boxPub: keys.box.pub, params });
    // Seal every epoch key this device holds, so a password restore can read the whole history.
    for (const [epoch, key] of ctx.epochKeys) await sealTo(sealerOf(ctx), epoch, key, 'password', keys.box.pub);
    await resealIdentityTo(ctx, 'password', keys.box.pub);
  });
}

export async function removePassword(s: VaultSession): Promise<void> {
  await withRegistry(s, async (ctx) => {
    if (!ctx.registry.passwordParams()) throw new KithError(ErrorCode.BadInput, 'this vault has no password set');
    await append(ctx, { kind: 'password-remove' });
    const sealed = await ctx.remote.list('keys/');
    for (const o of sealed) if (o.key.endsWith('/password')) await ctx.remote.delete(o.key);
  });
}

export async function pair(s: VaultSession, o: PairOptions): Promise<{ deviceId: string; name: string; sas: string }> {
  const ctx = await withRegistry(s, async (c) => c);
  ctx.registry.assertNotRevoked(ctx.deviceId);
  const headerBytes = await ctx.remote.get(remoteKeys.vault);
  if (!headerBytes) throw new KithError(ErrorCode.RemoteEmpty, `the vault header is missing from ${ctx.remote.url}`);
  const invite = { vaultId: ctx.vaultId, inviter: ctx.deviceId, headerHash: bytesToHex(await sha256(headerBytes)) };
  return invitePairing(ctx.remote, invite, ctx.deps, o, async (joiner) => {
    await s.exclusive(async () => {
      await append(ctx, { kind: 'add', deviceId: joiner.deviceId, name: joiner.name, signPub: joiner.signPub, boxPub: joiner.boxPub });
      // The current epoch's key, sealed to the new device.
      const epoch = ctx.registry.epoch;
      await sealTo(sealerOf(ctx), epoch, await loadEpochKey(ctx, epoch), joiner.deviceId, joiner.boxPub);
      // The person's identity (shared spaces), if they have one: loading it seals it to every admitted device lacking it, the new one included.
      await loadIdentity(ctx, { create: false }).catch((e: unknown) => {
        if (!KithError.is(e, ErrorCode.RemoteUnavailable)) throw e; // not sealed to this device yet: the device holding it seals it later
      });
    });
  });
}

async function append(ctx: EngineContext, change: RegistryChange): Promise<void> {
  await ctx.registry.append(ctx.remote, change, ctx.deviceId, ctx.signSeed, ctx.deps.now());
  await ctx.saveRegistry();
}

/**
 * Starts a new epoch: its key is sealed to the recipients that remain
 * (before the registry entry announces it, so nobody looks for a key that
 * is not there yet), linked to the previous epoch, checked on the remote,
 * then announced by an entry that commits to it, then this device's head
 * is rewritten to name the new registry position.
 */
async function rotateEpoch(
  ctx: EngineContext,
  change: (epoch: number, keyCheck: Uint8Array) => RegistryChange,
  recipients: (current: [string, Uint8Array][]) => [string, Uint8Array][],
): Promise<void> {
  const previous = await loadEpochKey(ctx, ctx.registry.epoch);
  const epoch = ctx.registry.epoch + 1;
  const key = newEpochKey(ctx.deps.random);
  const keyCheck = await publishEpoch(ctx, epoch, key, previous, recipients(ctx.registry.recipients()));
  await append(ctx, change(epoch, keyCheck));
  await ctx.rememberEpochKey(epoch, key);
  await push(ctx);
}
