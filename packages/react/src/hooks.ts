/**
 * @module hooks
 * React bindings: a provider for one open Vault and hooks that read it
 * live. Every hook is `useSyncExternalStore` over a {@link Live} value that
 * reloads on the vault's events (see live.ts for its guarantees).
 */
import { createContext, createElement, useContext, useMemo, useSyncExternalStore, type ReactElement, type ReactNode } from 'react';
import { ErrorCode, KithError } from '@kith/core';
import type { Collection, Conflict, DeviceInfo, Doc, ListQuery, RecordSchema, TypedDoc, Vault, VaultEvents } from '@kith/core';
import { Live, type Loaded, type Watch } from './live.js';

const VaultContext = createContext<Vault | null>(null);

/** Makes `vault` the one the hooks below it read. */
export function KithProvider(props: { readonly vault: Vault; readonly children?: ReactNode }): ReactElement {
  return createElement(VaultContext.Provider, { value: props.vault }, props.children);
}

/** The provider's vault (KITH_BAD_INPUT outside a KithProvider). */
export function useVault(): Vault {
  const vault = useContext(VaultContext);
  if (vault === null) throw new KithError(ErrorCode.BadInput, 'useVault: no <KithProvider vault={…}> above this component');
  return vault;
}

/** A collection's name, or a typed collection of the provider's vault (`vault.collection(name, schema)`). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any schema: the overloads below keep the record type.
export type CollectionRef = string | Collection<any>;

/** A Live value made once per vault and key, read with useSyncExternalStore. */
function useLive<T>(key: string, make: (vault: Vault) => Live<T>): Loaded<T> {
  const vault = useVault();
  // The key stands for everything `make` reads besides the vault (queries are compared by their JSON text).
  const live = useMemo(() => make(vault), [vault, key]);
  return useSyncExternalStore(live.subscribe, live.getSnapshot, live.getSnapshot);
}

/** Reloads on any of these vault events (for `change`, only when it touches `collection`). */
function on(vault: Vault, events: readonly (keyof VaultEvents)[], collection?: string): Watch {
  return (reload) => {
    const offs = events.map((event) =>
      event === 'change' && collection !== undefined
        ? vault.on('change', (e) => e.collections.includes(collection) && reload())
        : vault.on(event, () => reload()),
    );
    return () => offs.forEach((off) => off());
  };
}

const nameOf = (c: CollectionRef): string => (typeof c === 'string' ? c : c.name);

/** The records of a query, live: loaded again after every change to the collection, local or synced. */
export function useQuery<S extends RecordSchema>(collection: Collection<S>, query?: ListQuery): Loaded<TypedDoc<S>[]>;
export function useQuery(collection: string, query?: ListQuery): Loaded<Doc[]>;
export function useQuery(collection: CollectionRef, query: ListQuery = {}): Loaded<Doc[]> {
  const name = nameOf(collection);
  return useLive(
    `${name}\u0000${JSON.stringify(query)}`,
    (vault) => new Live(async () => (await vault.list(name, query)).records, on(vault, ['change'], name)),
  );
}

/** One record, live (data undefined while loading and when there is no such record). */
export function useRecord<S extends RecordSchema>(collection: Collection<S>, id: string): Loaded<TypedDoc<S> | undefined>;
export function useRecord(collection: string, id: string): Loaded<Doc | undefined>;
export function useRecord(collection: CollectionRef, id: string): Loaded<Doc | undefined> {
  const name = nameOf(collection);
  return useLive(`${name}\u0000${id}`, (vault) => new Live(() => vault.get(name, id), on(vault, ['change'], name)));
}

/** Conflicts left by concurrent writes, in one collection or all, live. */
export function useConflicts(collection?: CollectionRef): Loaded<Conflict[]> {
  const name = collection === undefined ? undefined : nameOf(collection);
  return useLive(`${name ?? ''}`, (vault) => new Live(() => vault.conflicts(name), on(vault, ['change', 'synced'], name)));
}

/** The vault's devices, reloaded after every sync (`reload()` after renaming or revoking one here). */
export function useDevices(): Loaded<DeviceInfo[]> {
  return useLive('', (vault) => new Live(() => vault.devices.list(), on(vault, ['synced'])));
}

/** What a sync indicator shows. */
export interface SyncStatus {
  /** The browser says it is offline, or the last sync attempt could not reach the remote. */
  readonly offline: boolean;
  /** A sync is moving segments (a `progress` event came, and no `synced` or `error` since). */
  readonly syncing: boolean;
  /** Local changes not yet pushed. */
  readonly pending: number;
  /** ISO time of the last successful push or pull, or null. */
  readonly lastSync: string | null;
  /** This device holds everything that existed when it joined. */
  readonly caughtUp: boolean;
  /** Fields in conflict. */
  readonly conflicts: number;
  /** The last auto-sync failure, cleared by the next successful sync. */
  readonly syncError: Error | null;
}

/** The sync indicator's state, from `vault.status()` and the vault's events (sync, auto-sync, writes) and the browser's online state. */
export function useSyncStatus(): Loaded<SyncStatus> {
  return useLive('', (vault) => {
    const activity = { syncing: false, syncError: null as Error | null };
    const watch: Watch = (reload) => {
      const offs = [
        vault.on('change', reload),
        vault.on('caughtUp', reload),
        vault.on('progress', () => {
          if (activity.syncing) return;
          activity.syncing = true;
          reload();
        }),
        vault.on('synced', () => {
          Object.assign(activity, { syncing: false, syncError: null });
          reload();
        }),
        vault.on('error', (e) => {
          Object.assign(activity, { syncing: false, syncError: e.error });
          reload();
        }),
      ];
      const target = typeof window === 'undefined' ? undefined : window;
      target?.addEventListener('online', reload);
      target?.addEventListener('offline', reload);
      return () => {
        offs.forEach((off) => off());
        target?.removeEventListener('online', reload);
        target?.removeEventListener('offline', reload);
      };
    };
    return new Live(async (): Promise<SyncStatus> => {
      const s = await vault.status();
      const browserOffline = typeof navigator !== 'undefined' && navigator.onLine === false;
      return {
        offline: browserOffline || KithError.is(activity.syncError, ErrorCode.RemoteUnavailable),
        syncing: activity.syncing,
        pending: s.pending,
        lastSync: [s.lastPush, s.lastPull].reduce<string | null>((a, b) => (b !== null && (a === null || b > a) ? b : a), null),
        caughtUp: s.caughtUp,
        conflicts: s.conflicts,
        syncError: activity.syncError,
      };
    }, watch);
  });
}
