/**
 * @module vault/open
 * How a returning device opens the vault its store holds, and reads which
 * vault that is. Kept apart from lifecycle.ts (create, restore, join), which
 * the Vault loads only when a page makes or restores a vault: a page that
 * opens one fetches none of that code.
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { systemDeps } from '../base/deps.js';
import type { Store } from '../ports/store.js';
import { META, readMeta, requireVault, type DeviceMeta, type VaultMeta } from '../ports/store-meta.js';
import type { RegistryState } from '../identity/registry.js';
import { unsealSecrets } from '../identity/local-keys.js';
import { checkStaleAfter } from '../sync/staleness.js';
import { VaultSession } from './session.js';
import type { StoredVaultConfig, VaultOptions } from './vault-types.js';

/** Reads the home's vault identity without touching the remote (undefined if none). */
export async function readConfig(store: Store): Promise<StoredVaultConfig | undefined> {
  return store.read(async (tx) => {
    const vault = await readMeta<VaultMeta>(tx, META.vault);
    const device = await readMeta<DeviceMeta>(tx, META.device);
    if (!vault || !device) return undefined;
    return { vaultId: vault.vaultId, deviceId: device.deviceId, deviceName: device.name, remoteUrl: vault.remoteUrl };
  });
}

/** Opens the vault this store holds (KITH_NO_VAULT if none). */
export async function openVault(o: VaultOptions): Promise<VaultSession> {
  const deps = { ...systemDeps, ...o.deps };
  checkStaleAfter(o.staleAfterMs);
  const m = await o.store.read(async (tx) => {
    const { vault, device } = await requireVault(tx);
    const registry = await readMeta<RegistryState>(tx, META.registry);
    if (!registry || !Array.isArray(registry.hashes)) {
      throw new KithError(ErrorCode.StoreTooNew, 'this store was made by an older development build of Kith', {
        hint: 'set this device up again in a new, empty store',
        reason: 'development-store',
      });
    }
    return { vault, device, epochs: (await readMeta<Record<string, string>>(tx, META.epochs)) ?? {}, registry };
  });
  const plain = await unsealSecrets({ device: m.device, epochs: m.epochs }, o.localPassphrase);
  return new VaultSession(o.store, o.remote, o, deps, { ...m, device: plain.device, epochs: plain.epochs }, plain.key);
}
