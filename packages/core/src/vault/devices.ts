/**
 * @module vault/devices
 * `vault.devices`: the vault's devices and its ways back in. Lists,
 * renames, revokes (a new epoch), pairs new devices, and manages the
 * vault password and recovery code. Reading is here; every change is in
 * device-admin.ts, loaded on the first one through on-demand.ts (a page
 * that opens a vault and syncs never fetches it).
 */
import type { PairOptions } from '../identity/pairing.js';
import type { VaultSession } from './session.js';
import type { DeviceInfo } from './vault-types.js';

const admin = (): Promise<typeof import('./on-demand.js')> => import('./on-demand.js');

export class Devices {
  readonly #s: VaultSession;

  /** @internal The vault makes its own (`vault.devices`). */
  constructor(session: VaultSession) {
    this.#s = session;
  }

  /** Every device of the vault, revoked ones included (from the last verified registry; `refresh` reads the remote's first). */
  async list(o: { refresh?: boolean } = {}): Promise<DeviceInfo[]> {
    if (o.refresh) await (await admin()).withRegistry(this.#s, async () => undefined);
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
    await (await admin()).rename(this.#s, deviceId, name);
  }

  /**
   * Removes a device for good: a signed revocation, then a new epoch key
   * sealed only to the remaining devices (and the recovery code and
   * password). The revoked device can read nothing written afterwards, and
   * its later writes are refused everywhere.
   */
  async revoke(deviceId: string): Promise<void> {
    await (await admin()).revoke(this.#s, deviceId);
  }

  /** Issues a new recovery code; the old one stops working. Returns the new code. */
  async rotateRecoveryCode(): Promise<string> {
    return (await admin()).rotateRecoveryCode(this.#s);
  }

  /** Sets or changes the vault password, a second way back in beside the recovery code. */
  async setPassword(password: string): Promise<void> {
    await (await admin()).setPassword(this.#s, password);
  }

  /** The Argon2id parameters of the vault password, as the verified registry holds them (undefined: none set). */
  passwordParameters(): { memoryKiB: number; iterations: number; parallelism: number } | undefined {
    const p = this.#s.ctx.registry.passwordParams();
    return p && { memoryKiB: p.memoryKiB, iterations: p.iterations, parallelism: p.parallelism };
  }

  /** Removes the vault password (the recovery code keeps working). */
  async removePassword(): Promise<void> {
    await (await admin()).removePassword(this.#s);
  }

  /**
   * Invites a new device: shows a one-time code (valid for `timeoutMs`),
   * waits for a device to join with it, lets the user compare the short
   * authentication string, then signs the device in and seals the vault
   * key to it.
   */
  async pair(o: PairOptions): Promise<{ deviceId: string; name: string; sas: string }> {
    return (await admin()).pair(this.#s, o);
  }
}
