/**
 * This browser's device: creating, restoring or joining a vault on the
 * relay, opening it in this tab (with the other tabs of the origin), and
 * forgetting it. The device lives in one IndexedDB store (and one blob
 * cache) named {@link STORE}; its vault URL is stored in it.
 */
import { ErrorCode, KithError, Vault, newRecoveryCode, vaultLocator } from '@kith/core';
import { cacheDatabaseName, databaseName, openBrowserBlobCache, openIndexedDbStore, openTabVault, type TabVault } from '@kith/indexeddb';
import { openRelayRemote } from '@kith/relay';

/** The name of this app's store and blob cache in the origin. */
export const STORE = 'kith-journal';

/** The relay this page came from: the relay serves the app, so its address is the page's origin. */
export function defaultRelay(): string {
  return location.origin;
}

/** Strips a trailing slash. */
export function trimUrl(url: string): string {
  return url.trim().replace(/\/+$/, '');
}

/** The vault URL a restore with `code` uses: the one given, else the relay's locator of the code (FORMAT.md "Vault locator"). */
export function restoreUrl(relay: string, vaultUrl: string, code: string): string {
  if (vaultUrl.trim() !== '') return trimUrl(vaultUrl);
  return `${trimUrl(relay)}/${vaultLocator(code.trim())}`;
}

/** Whether this browser already is a device of a vault; its vault URL if so. */
export async function existingDevice(): Promise<string | undefined> {
  const store = await openIndexedDbStore(STORE, { persist: false });
  try {
    return (await Vault.readConfig(store))?.remoteUrl;
  } finally {
    await store.close();
  }
}

/**
 * Runs a create, restore or join on a fresh store; if it fails, the store
 * is deleted again, so a second try starts clean.
 */
async function onFreshStore<T>(fn: (store: Awaited<ReturnType<typeof openIndexedDbStore>>) => Promise<T>): Promise<T> {
  const store = await openIndexedDbStore(STORE);
  try {
    return await fn(store);
  } catch (e) {
    await store.close().catch(() => undefined);
    await forgetDevice().catch(() => undefined);
    throw e;
  }
}

/**
 * Creates a vault on the relay under the locator of its recovery code, so
 * that the relay address and the code alone find it again.
 */
export async function createVault(relay: string, deviceName: string): Promise<{ recoveryCode: string; vaultUrl: string }> {
  const recoveryCode = newRecoveryCode();
  const vaultUrl = `${trimUrl(relay)}/${vaultLocator(recoveryCode)}`;
  return onFreshStore(async (store) => {
    const { vault } = await Vault.create({ store, remote: openRelayRemote(vaultUrl), remoteUrl: vaultUrl, deviceName, recoveryCode });
    await vault.close();
    return { recoveryCode, vaultUrl };
  });
}

export async function restoreVault(vaultUrl: string, deviceName: string, secret: { recoveryCode: string } | { password: string }): Promise<void> {
  await onFreshStore(async (store) => {
    const vault = await Vault.restore({ store, remote: openRelayRemote(vaultUrl), remoteUrl: vaultUrl, deviceName, ...secret });
    await vault.close();
  });
}

export async function joinVault(vaultUrl: string, deviceName: string, code: string, onSas: (sas: string) => void, signal: AbortSignal): Promise<void> {
  await onFreshStore(async (store) => {
    const vault = await Vault.join({ store, remote: openRelayRemote(vaultUrl), remoteUrl: vaultUrl, deviceName, code, onSas, signal, timeoutMs: 600_000 });
    await vault.close();
  });
}

/** Opens this browser's device in this tab: reads and writes at once, the remote only when a sync needs it (so it opens offline). */
export async function openDevice(vaultUrl: string): Promise<TabVault> {
  const blobCache = await openBrowserBlobCache(STORE);
  return openTabVault({ name: STORE, remote: async () => openRelayRemote(vaultUrl), blobCache, intervalMs: 30_000 });
}

/** Deletes this browser's copy: the store and the blob cache (OPFS too). */
export async function forgetDevice(): Promise<void> {
  await Promise.all([deleteDatabase(databaseName(STORE)), deleteDatabase(cacheDatabaseName(STORE))]);
  try {
    // The blob cache's OPFS folder (see @kith/indexeddb's openBrowserBlobCache).
    const blobs = await (await navigator.storage.getDirectory()).getDirectoryHandle('kith-blobs');
    await blobs.removeEntry(encodeURIComponent(STORE), { recursive: true });
  } catch {
    // No OPFS, or nothing there.
  }
}

function deleteDatabase(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = () => resolve();
    req.onerror = () => reject(req.error ?? new Error(`could not delete ${name}`));
    req.onblocked = () => resolve(); // deleted once the other tabs let go
  });
}

/** The demo's `#restore=` fragment: what the page needs to restore a vault without typing (the fragment never reaches the server). */
export interface DemoRestore {
  readonly url: string;
  readonly code: string;
}

export function demoRestoreOf(hash: string): DemoRestore | undefined {
  const m = /(?:^#|&)restore=([A-Za-z0-9_-]+)/.exec(hash);
  if (!m) return undefined;
  try {
    const json = atob(m[1]!.replace(/-/g, '+').replace(/_/g, '/'));
    const v = JSON.parse(json) as Partial<DemoRestore>;
    return typeof v.url === 'string' && typeof v.code === 'string' ? { url: v.url, code: v.code } : undefined;
  } catch {
    return undefined;
  }
}

/** What a failure says to a person: the KithError's message and hint, or the error's message. */
export function describe(e: unknown): string {
  if (KithError.is(e)) return e.hint ? `${e.message} (${e.hint})` : e.message;
  return e instanceof Error ? e.message : String(e);
}

export function isRevoked(e: unknown): boolean {
  return KithError.is(e, ErrorCode.Revoked);
}
