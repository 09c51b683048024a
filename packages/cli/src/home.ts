/**
 * @module home
 * A device's home directory: its SQLite store (`kith.db`, mode 0600 in a
 * 0700 directory), one more per shared space it keeps (`spaces/<spaceId>.db`)
 * and, through the vault it holds, its remote.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { ErrorCode, KithError, Vault, type Store } from '@kith/core';
import { nodeSpaceRemotes, openFsBlobCache } from '@kith/node';
import { openSqliteStore } from '@kith/sqlite';
import { openRemote, remoteOptions } from './remote-url.js';
import type { GlobalOptions } from './output.js';
import { testClockDeps } from './test-clock.js';

/** `--home`, else `$KITH_HOME`, else `~/.kith`. */
export function homeDir(opts: GlobalOptions): string {
  return resolve(opts.home ?? process.env['KITH_HOME'] ?? join(homedir(), '.kith'));
}

/** Opens (creating if needed, 0700/0600) the SQLite store of this home. */
export function openHomeStore(opts: GlobalOptions): Promise<Store> {
  return openSqliteStore(join(homeDir(opts), 'kith.db'));
}

/** Blob chunks live as files under the home; the store keeps only references. */
export function homeBlobCache(opts: GlobalOptions) {
  return openFsBlobCache(join(homeDir(opts), 'blobs'));
}

/** Opens the vault of this home (KITH_NO_VAULT if there is none); the vault opens its remote on first use, so local commands work offline. */
export async function openVault(opts: GlobalOptions, extra: { staleAfterMs?: number } = {}): Promise<Vault> {
  // Checked before opening: opening would create the home (a mistyped --home would leave a stray one).
  if (!existsSync(join(homeDir(opts), 'kith.db'))) throw noVault(opts);
  const store = await openHomeStore(opts);
  try {
    const config = await Vault.readConfig(store);
    if (!config) throw noVault(opts);
    const localPassphrase = process.env['KITH_PASSPHRASE'];
    return await Vault.open({
      store,
      remote: () => openRemote(config.remoteUrl),
      blobCache: homeBlobCache(opts),
      spaceRemotes: nodeSpaceRemotes(remoteOptions()),
      spaceStore: (spaceId) => openSqliteStore(join(homeDir(opts), 'spaces', `${spaceId}.db`)),
      ...(localPassphrase ? { localPassphrase } : {}),
      ...testClockDeps(),
      ...extra,
    });
  } catch (e) {
    await store.close();
    throw e;
  }
}

function noVault(opts: GlobalOptions): KithError {
  return new KithError(ErrorCode.NoVault, `no vault in ${homeDir(opts)}`, {
    hint: 'create one with `kith init --remote URL`, or join one with `kith restore` or `kith join`',
  });
}

/** Runs `fn` with the home's vault and always closes it. */
export async function withVault<T>(opts: GlobalOptions, fn: (v: Vault) => Promise<T>, extra: { staleAfterMs?: number } = {}): Promise<T> {
  const vault = await openVault(opts, extra);
  try {
    return await fn(vault);
  } finally {
    await vault.close();
  }
}
