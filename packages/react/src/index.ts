/**
 * @module @kith/react
 * React bindings for Kith: `<KithProvider vault={vault}>` and hooks that
 * read the vault live (queries, records, sync status, conflicts, devices).
 */
export { KithProvider, useConflicts, useDevices, useQuery, useRecord, useSyncStatus, useVault } from './hooks.js';
export type { CollectionRef, SyncStatus } from './hooks.js';
export type { Loaded } from './live.js';
