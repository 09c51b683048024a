/**
 * @module @kith/relay/testing
 * Test helpers: a relay in a child process (for kill -9 tests).
 */
export { spawnRelayProcess, type RelayProcess } from './relay-process.js';
