/**
 * @module format
 * Every object a remote holds. docs/FORMAT.md is the byte-level spec.
 */
export { FORMAT_VERSION, SUITE, ObjectType } from './framing.js';
export * from './remote-keys.js';
export * from './vault-header.js';
export * from './registry-entry.js';
export * from './sealed-key.js';
export * from './segment.js';
export * from './head.js';
export * from './snapshot.js';
