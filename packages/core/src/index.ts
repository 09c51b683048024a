/**
 * @module @kith/core
 * Kith's isomorphic core. See docs/FORMAT.md for the byte-level formats.
 */
export * from './base/deps.js';
export * from './base/errors.js';
export * from './model/json.js';
export * from './model/names.js';
export * from './ports/remote.js';
export * from './ports/capabilities.js';
export * from './ports/counting.js';
export * from './ports/retry.js';
export * from './identity/remote-auth.js';
export * from './ports/store.js';
export * from './model/hlc.js';
export * from './model/ops.js';
export * from './model/merge.js';
export * from './vault/vault-types.js';
export * from './crypto/index.js';
export * from './format/index.js';
export { Vault } from './vault/vault.js';
export * from './blobs/index.js';
export * from './base/warnings.js';
export { DEFAULT_STALE_AFTER_MS } from './sync/staleness.js';
export type { CheckCounts, CheckOptions, CheckProblem, CheckProblemKind, CheckProgress, CheckReport } from './check/index.js';
