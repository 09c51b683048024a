/**
 * @module @kith/core/testing
 * Conformance suites that every Store and every Remote adapter runs, and
 * test helpers. Node-only (uses node:test); not part of the browser build.
 */
export {};
export * from './store-conformance.js';
export * from './sync-scenarios.js';
export * from './memory-store.js';
export * from './memory-remote.js';
export * from './remote-conformance.js';
export * from './check-scenarios.js';
