/**
 * @module vault-types
 * The public shapes of the Vault API: records, queries, results, events.
 */
import type { Deps } from '../base/deps.js';
import type { JsonObject, JsonPrimitive, JsonValue } from '../model/json.js';
import type { Remote } from '../ports/remote.js';
import type { BlobCache } from '../ports/blob-cache.js';
import type { LogEntry, Store } from '../ports/store.js';
import type { SyncWarning } from '../base/warnings.js';
import type { PairOptions } from '../identity/pairing.js';
export type { PairOptions };
import type { DeviceStatus } from '../sync/staleness.js';
export type { DeviceStatus };
import type { Resolution } from '../model/local-writes.js';
export type { Resolution };
import type { SyncProgress } from '../sync/context.js';
import type { CompactionPolicy } from '../snapshot/compact-options.js';
export type { SyncProgress };
export type { LogEntry };

/** A record as the API returns it: its id and its fields. */
export type Doc = { readonly id: string } & JsonObject;

/** Opens the vault's remote when an operation first needs it; called again after a failure (see `VaultOptions.remote`). */
export type RemoteOpener = () => Promise<Remote>;

export interface VaultOptions {
  readonly store: Store;
  /**
   * The remote, or a function that opens it. `open` calls an opener on the
   * first operation that needs the remote (local reads and writes never
   * do), once; a failed open fails that operation and the next one tries
   * again. `create`, `restore` and `join` open it at once, and close what
   * they opened if they fail.
   */
  readonly remote: Remote | RemoteOpener;
  /** Seals (create/restore/join) or unseals (open) this device's keys in its store; see `setLocalPassphrase`. */
  readonly localPassphrase?: string;
  /** Where blob chunks are kept locally (Node: `openFsBlobCache` from @kith/node); without one, every read fetches. `close` closes it. */
  readonly blobCache?: BlobCache;
  /** Injected randomness and clock (tests); defaults to WebCrypto and Date.now. */
  readonly deps?: Partial<Deps>;
  /**
   * Restore, join, pull and sync warn when the newest signed head on the
   * remote is older than this (ms; default 7 days; `Infinity` turns it off).
   */
  readonly staleAfterMs?: number;
  /**
   * A sync also writes a snapshot of the state (see `snapshot()`) when this
   * device has applied this many segments beyond the newest snapshot
   * (default `{ segments: 1000 }`; `false` turns it off).
   */
  readonly snapshotEvery?: false | { readonly segments: number };
  /** Days of local history (`log`) kept; older entries are pruned, except each record's newest (default 90; `Infinity` keeps all). */
  readonly historyDays?: number;
  /** When compaction may delete and how often a sync runs it (see CompactionPolicy): horizon (days, default 90), grace period (hours, default 24), `everyHours`; docs/FORMAT.md "Compaction". */
  readonly compaction?: CompactionPolicy;
  /** How shared spaces' remotes are named and opened (Node: `nodeSpaceRemotes` from @kith/node); without it, space operations fail with KITH_BAD_INPUT. */
  readonly spaceRemotes?: SpaceRemotes;
  /** Opens the local store of a shared space this device keeps (one store per space); without it, space operations fail with KITH_BAD_INPUT. */
  readonly spaceStore?: (spaceId: string) => Promise<Store>;
}

/** Where shared spaces live: the core knows no URL schemes (see docs/FORMAT.md "Spaces"). */
export interface SpaceRemotes {
  /** The URL of a new space next to the vault's remote. */
  urlFor(vaultRemoteUrl: string, spaceId: string): string;
  /** Opens a space's remote (rooted at the space: keys `members/…`, `segments/…`). */
  open(url: string): Promise<Remote>;
}

export interface CreateVaultOptions extends VaultOptions {
  /** The remote URL as the user gave it; stored so the device can reopen it. */
  readonly remoteUrl: string;
  /** A name for this device, shown in `kith devices` (default "device"). */
  readonly deviceName?: string;
}

/** Options of `Vault.create()`. */
export interface NewVaultOptions extends CreateVaultOptions {
  /**
   * The vault's recovery code, made beforehand with `newRecoveryCode()` when
   * the remote is named by its `vaultLocator`; default: a fresh one. One
   * code per vault: it holds the vault's recovery keys.
   */
  readonly recoveryCode?: string;
}

export type RestoreVaultOptions = CreateVaultOptions & ({ readonly recoveryCode: string } | { readonly password: string });

/** One device of the vault's registry, as `devices()` lists it. */
export interface DeviceInfo {
  readonly deviceId: string;
  readonly name: string;
  readonly addedAt: string;
  /** `recovery`, `password`, or the id of the device that added it. */
  readonly addedBy: string;
  readonly revoked: boolean;
  /** This is the device the vault is open on. */
  readonly current: boolean;
}

/** Options of `Vault.join()`: become a device of a vault with a pairing code. */
export interface JoinOptions extends CreateVaultOptions {
  readonly code: string;
  /** Called with the short authentication string, to show while the other device confirms. */
  readonly onSas?: (sas: string) => void;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly pollMs?: number;
}

/** What a home's store says about its vault, readable before opening the remote. */
export interface StoredVaultConfig {
  readonly vaultId: string;
  readonly deviceId: string;
  readonly deviceName: string;
  readonly remoteUrl: string;
}

/** A query on one collection. */
export interface ListQuery {
  /** Equality filters on top-level fields, all of which must match. */
  readonly where?: Readonly<Record<string, JsonPrimitive>>;
  /** Order by a field (ascending unless a `-` prefix: `-createdAt`), ties by id. */
  readonly order?: string;
  readonly limit?: number;
  /** The `next` cursor of the previous page. */
  readonly after?: string;
}

export interface ListPage {
  readonly records: Doc[];
  readonly next: string | null;
}

/** One write inside `vault.batch`. */
export interface BatchWriter {
  put(collection: string, id: string, fields: JsonObject): void;
  /** Like `vault.patch`: a missing or deleted record fails the whole batch with KITH_NOT_FOUND. */
  patch(collection: string, id: string, fields: JsonObject): void;
  delete(collection: string, id: string): void;
}

export interface SyncResult {
  /** Changes (record writes) sent. */
  readonly pushed: number;
  /** Changes received and applied. */
  readonly pulled: number;
  /** Fields in conflict after this sync, vault-wide. */
  readonly conflicts: number;
  /** Present when the remote looks like it serves an old state (a head older than one seen, or older than `staleAfterMs`). */
  readonly warnings?: readonly SyncWarning[];
}

export interface VaultStatus {
  readonly vaultId: string;
  readonly deviceId: string;
  readonly deviceName: string;
  readonly remote: string;
  /** Local changes not yet pushed. */
  readonly pending: number;
  /** ISO time of the last successful push, or null. */
  readonly lastPush: string | null;
  readonly lastPull: string | null;
  /** Fields in conflict. */
  readonly conflicts: number;
  /** True once this device has pulled everything that existed when it joined. */
  readonly caughtUp: boolean;
  /** Every device of the vault (revoked ones too), with its last head time as of the last pull. */
  readonly devices: readonly DeviceStatus[];
}

/** One side of a conflict. `deleted` marks a delete (for a field: an unset). */
export interface ConflictValue {
  readonly device: string;
  readonly hlc: string;
  readonly value?: JsonValue;
  readonly deleted?: boolean;
}

/**
 * Concurrent writes to one field. `field` is null for the record itself
 * (one device deleted it while another changed it).
 */
export interface Conflict {
  readonly collection: string;
  readonly id: string;
  readonly field: string | null;
  /** The value every device shows now (absent when the winner is a delete). */
  readonly winner?: JsonValue;
  readonly winnerDevice: string;
  readonly winnerDeleted?: boolean;
  readonly losers: readonly ConflictValue[];
}

export interface VaultEvents {
  /** Records in these collections changed (a local write or a pull). */
  change: { readonly collections: readonly string[]; readonly source: 'local' | 'remote' };
  progress: SyncProgress;
  /** A sync finished. */
  synced: SyncResult;
  /** The first time this device holds everything that existed when it joined. */
  caughtUp: { readonly changes: number };
  /** Auto-sync failed; it retries on its own. */
  error: { readonly error: Error };
}
