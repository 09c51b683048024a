/**
 * @module @kith/core
 * Kith's isomorphic core. See docs/FORMAT.md for the byte-level formats.
 */
export * from './deps.js';
export * from './errors.js';
export * from './json.js';
export * from './names.js';
export * from './remote.js';
export * from './remote-auth.js';
export * from './store.js';
export * from './hlc.js';
export * from './ops.js';
export * from './merge.js';
export * from './vault-types.js';
export * from './crypto/index.js';
export * from './format/index.js';
export { Vault } from './vault.js';
export * from './blobs/index.js';
export * from './warnings.js';
export { DEFAULT_STALE_AFTER_MS } from './sync/staleness.js';
export type { CheckCounts, CheckOptions, CheckProblem, CheckProblemKind, CheckProgress, CheckReport } from './check/index.js';
