/**
 * @module @kith/core
 * Kith's isomorphic core, as an app uses it: the {@link Vault} and the
 * shapes it takes and returns. Names are exported one by one, so anything
 * not listed here is internal and may change in any release
 * (packages/core/api/core.api.md lists every entry's names).
 * Writing a Store or a Remote: `@kith/core/adapter`. The relay's formats and
 * auth: `@kith/core/relay`. Conformance suites: `@kith/core/testing`.
 * docs/FORMAT.md is the byte-level spec.
 */
export { Vault } from './vault/vault.js';
export type {
  BatchWriter,
  Conflict,
  ConflictValue,
  CreateVaultOptions,
  DeviceInfo,
  DeviceStatus,
  Doc,
  JoinOptions,
  ListPage,
  ListQuery,
  LogEntry,
  NewVaultOptions,
  PairOptions,
  Resolution,
  RestoreVaultOptions,
  SpaceRemotes,
  StoredVaultConfig,
  SyncProgress,
  SyncResult,
  VaultEvents,
  VaultOptions,
  VaultStatus,
} from './vault/vault-types.js';
export type { DeviceDelivery } from './vault/delivery.js';
export type { ExportPage } from './vault/export.js';
export type { BackupOptions, BackupResult, BackupSource } from './vault/backup.js';
export type { BackupRestoreResult, RestoreFromBackupOptions } from './vault/backup-restore.js';
export type { RetentionRule } from './vault/retention.js';
export { Collection } from './vault/collection.js';
export type { Spaces } from './vault/spaces/spaces.js';
export type { SpaceRecords, SpaceBlobs } from './vault/spaces/space-records.js';
export { ROLES } from './spaces/roles.js';
export type { JoinSpaceOptions, Role, SpaceInfo, SpaceInviteOptions, SpaceInvited, SpaceJoined, SpaceMember } from './vault/spaces/space-types.js';
export type { CollectionHost, RecordSchema, StandardSchemaV1, TypedDoc, TypedPage } from './vault/collection.js';

// Errors and warnings: codes are stable, messages are not.
export { ErrorCode, KithError, isIntegrityError } from './base/errors.js';
export { WarningCode, type SyncWarning } from './base/warnings.js';

// What an app passes in: storage, remote, blob cache, injected time and randomness.
export type { Store } from './ports/store.js';
export type { Remote } from './ports/remote.js';
export type { BlobCache } from './ports/blob-cache.js';
export type { Clock, Deps, RandomBytes } from './base/deps.js';

// Record values and the checks the Vault applies, for validating input before a write.
export type { JsonObject, JsonPrimitive, JsonValue } from './model/json.js';
export { MAX_RECORD_BYTES, MAX_VALUE_BYTES, checkFields } from './model/json.js';
export { MAX_NAME_LENGTH, checkCollection, checkRecordId } from './model/names.js';
export { MIN_PASSWORD_LENGTH, checkPassword } from './crypto/password.js';
export { parseRecoveryCode } from './crypto/recovery.js';
export { newRecoveryCode, vaultLocator } from './crypto/locator.js';
export { stampTime } from './model/hlc.js';

// Sync freshness and `vault.check()`.
export { DEFAULT_STALE_AFTER_MS } from './sync/staleness.js';
export type { CheckCounts, CheckOptions, CheckPin, CheckProblem, CheckProblemKind, CheckProgress, CheckReport, CheckSpacePins } from './check/index.js';

// Blobs (`vault.blobs`): references stored in records, policies, results.
export type { Blobs } from './blobs/blobs.js';
export type { BlobInfo, BlobPolicy, BlobPolicyChange, BlobPutResult, BlobSource, GcResult, PrefetchPolicy, PrefetchResult } from './blobs/blobs.js';
export type { CompactResult, SnapshotResult } from './snapshot/index.js';
export type { CompactionPolicy } from './snapshot/compact-options.js';
export type { CompactCall } from './vault/syncer.js';
export { DEFAULT_BLOB_POLICY, DEFAULT_GC_GRACE_MS, policyActs } from './blobs/blobs.js';
export { BLOB_REF_PREFIX, formatBlobRef, isBlobRef, parseBlobRef, type BlobManifest } from './format/blob-format.js';
