/**
 * `kith/testing`: helpers for tests that drive the real CLI. Not part of
 * the CLI's contract; shipped only under this entry.
 */
export * from './kith-process.js';
