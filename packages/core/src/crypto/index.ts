/**
 * @module crypto
 * Primitives, keys and the recovery code. Audited libraries only.
 */
export * from './bytes.js';
export * from './primitives.js';
export * from './curves.js';
export * from './compress.js';
export * from './keys.js';
export * from './padding.js';
export * from './recovery.js';
export * from './locator.js';
export * from './password.js';
export * from './password-keys.js';
export * from './local-seal.js';
