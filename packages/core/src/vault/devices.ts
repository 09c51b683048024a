/**
 * @module vault/devices
 * `vault.devices`: the vault's devices and its ways back in. Lists,
 * renames, revokes (a new epoch), pairs new devices, and manages the
 * vault password and recovery code. Every change is a signed registry
 * entry; each runs after this instance's other remote work.
 */
import { ErrorCode, KithError, isIntegrityError } from '../base/errors.js';
import { bytesToHex, checkPassword, generateRecoveryCode, newArgon2Params, newEpochKey, passwordKeys, recoveryKeys, sha256 } from '../crypto/index.js';
import { remoteKeys, type RegistryChange } from '../format/index.js';
import { META, readMeta, writeMeta, type Cursor, type DeviceMeta } from '../ports/store-meta.js';
import { loadEpochKey, publishEpoch, sealCurrentEpochTo, sealerOf, sealTo } from '../identity/epochs.js';
import { checkDeviceName, unknownDevice } from '../identity/join.js';
import { invitePairing, type PairOptions } from '../identity/pairing.js';
import type { EngineContext } from '../sync/context.js';
import { catchUpRegistry } from '../sync/catch-up.js';
import { pull } from '../sync/pull.js';
import { push } from '../sync/push.js';
import type { VaultSession } from './session.js';
import type { DeviceInfo } from './vault-types.js';

export class Devices {
  readonly #s: VaultSession;

  /** @internal The vault makes its own (`vault.devices`). */
  constructor(session: VaultSession) {
    this.#s = session;
  }

  /** Every device of the vault, revoked ones included (from the last verified registry; `refresh` reads the remote's first). */
  async list(o: { refresh?: boolean } = {}): Promise<DeviceInfo[]> {
    if (o.refresh) await this.#withRegistry(async () => undefined);
    const { registry, deviceId: me } = this.#s.ctx;
    return registry.devices().map(([deviceId, d]) => ({
      deviceId,
      name: d.name,
      addedAt: new Date(d.addedAt).toISOString(),
      addedBy: d.addedBy,
      revoked: d.revoked !== undefined,
      current: deviceId === me,
    }));
  }

  /** Renames a device of the vault (this one or another). */
  async rename(deviceId: string, name: string): Promise<void> {
    const clean = checkDeviceName(name);
    await this.#withRegistry(async (ctx) => {
      if (!ctx.registry.device(deviceId)) throw unknownDevice(deviceId);
      await this.#append(ctx, { kind: 'rename', deviceId, name: clean });
      if (deviceId === ctx.deviceId) {
        await this.#s.store.write(async (tx) => {
          const device = (await readMeta<DeviceMeta>(tx, META.device))!;
          await writeMeta<DeviceMeta>(tx, META.device, { ...device, name: clean });
        });
      }
    });
  }

  /**
   * Removes a device for good: a signed revocation, then a new epoch key
   * sealed only to the remaining devices (and the recovery code and
   * password). The revoked device can read nothing written afterwards, and
   * its later writes are refused everywhere.
   */
  async revoke(deviceId: string): Promise<void> {
    await this.#withRegistry(async (ctx) => {
      const target = ctx.registry.device(deviceId);
      if (!target) throw unknownDevice(deviceId);
      if (target.revoked) throw new KithError(ErrorCode.BadInput, `device ${deviceId} is already revoked`);
      if (deviceId === ctx.deviceId) throw new KithError(ErrorCode.BadInput, 'a device cannot revoke itself', { hint: 'revoke it from another device' });
      // Everything the device pushed up to now stays valid; pull it first so it is not lost.
      await pull(ctx).catch((e: unknown) => {
        if (!isIntegrityError(e)) throw e;
      });
      const lastSeq = (await this.#s.store.read((tx) => readMeta<Cursor>(tx, META.cursor(deviceId))))?.seq ?? 0;
      await this.#rotateEpoch(
        ctx,
        (epoch, keyCheck) => ({ kind: 'revoke', deviceId, lastSeq, epoch, keyCheck }),
        (draft) => draft.filter(([id]) => id !== deviceId),
      );
    });
  }

  /** Issues a new recovery code; the old one stops working. Returns the new code. */
  async rotateRecoveryCode(): Promise<string> {
    return this.#withRegistry(async (ctx) => {
      const { code, secret } = generateRecoveryCode(ctx.deps.random);
      const fresh = recoveryKeys(secret);
      await this.#rotateEpoch(
        ctx,
        (epoch, keyCheck) => ({ kind: 'recovery', signPub: fresh.sign.pub, boxPub: fresh.box.pub, epoch, keyCheck }),
        (draft) => draft.map(([id, pub]) => (id === 'recovery' ? [id, fresh.box.pub] : [id, pub])),
      );
      return code;
    });
  }

  /** Sets or changes the vault password, a second way back in beside the recovery code. */
  async setPassword(password: string): Promise<void> {
    checkPassword(password);
    await this.#withRegistry(async (ctx) => {
      const params = newArgon2Params(ctx.deps.random);
      const keys = await passwordKeys(password, params);
      await this.#append(ctx, { kind: 'password', signPub: keys.sign.pub, boxPub: keys.box.pub, params });
      // Seal every epoch key this device holds, so a password restore can read the whole history.
      for (const [epoch, key] of ctx.epochKeys) await sealTo(sealerOf(ctx), epoch, key, 'password', keys.box.pub);
    });
  }

  /** The Argon2id parameters of the vault password, as the verified registry holds them (undefined: none set). */
  passwordParameters(): { memoryKiB: number; iterations: number; parallelism: number } | undefined {
    const p = this.#s.ctx.registry.passwordParams();
    return p && { memoryKiB: p.memoryKiB, iterations: p.iterations, parallelism: p.parallelism };
  }

  /** Removes the vault password (the recovery code keeps working). */
  async removePassword(): Promise<void> {
    await this.#withRegistry(async (ctx) => {
      if (!ctx.registry.passwordParams()) throw new KithError(ErrorCode.BadInput, 'this vault has no password set');
      await this.#append(ctx, { kind: 'password-remove' });
      const sealed = await ctx.remote.list('keys/');
      for (const o of sealed) if (o.key.endsWith('/password')) await ctx.remote.delete(o.key);
    });
  }

  /**
   * Invites a new device: shows a one-time code (valid for `timeoutMs`),
   * waits for a device to join with it, lets the user compare the short
   * authentication string, then signs the device in and seals the vault
   * key to it.
   */
  async pair(o: PairOptions): Promise<{ deviceId: string; name: string; sas: string }> {
    const ctx = await this.#withRegistry(async (c) => c);
    ctx.registry.assertNotRevoked(ctx.deviceId);
    const headerBytes = await ctx.remote.get(remoteKeys.vault);
    if (!headerBytes) throw new KithError(ErrorCode.RemoteEmpty, `the vault header is missing from ${ctx.remote.url}`);
    const invite = { vaultId: ctx.vaultId, inviter: ctx.deviceId, headerHash: bytesToHex(await sha256(headerBytes)) };
    return invitePairing(ctx.remote, invite, ctx.deps, o, async (joiner) => {
      await this.#s.exclusive(async () => {
        await this.#append(ctx, { kind: 'add', deviceId: joiner.deviceId, name: joiner.name, signPub: joiner.signPub, boxPub: joiner.boxPub });
        await sealCurrentEpochTo(ctx, joiner.deviceId, joiner.boxPub);
      });
    });
  }

  /** Runs `fn` after this instance's other remote work, with the remote open and the registry caught up. */
  async #withRegistry<T>(fn: (ctx: EngineContext) => Promise<T>): Promise<T> {
    return this.#s.exclusive(async () => {
      const ctx = await this.#s.connect();
      await catchUpRegistry(ctx);
      return fn(ctx);
    });
  }

  async #append(ctx: EngineContext, change: RegistryChange): Promise<void> {
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
  async #rotateEpoch(
    ctx: EngineContext,
    change: (epoch: number, keyCheck: Uint8Array) => RegistryChange,
    recipients: (current: [string, Uint8Array][]) => [string, Uint8Array][],
  ): Promise<void> {
    const previous = await loadEpochKey(ctx, ctx.registry.epoch);
    const epoch = ctx.registry.epoch + 1;
    const key = newEpochKey(ctx.deps.random);
    const keyCheck = await publishEpoch(ctx, epoch, key, previous, recipients(ctx.registry.recipients()));
    await this.#append(ctx, change(epoch, keyCheck));
    await ctx.rememberEpochKey(epoch, key);
    await push(ctx);
  }
}
