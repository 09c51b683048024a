/**
 * @module @kith/relay/testing
 * Test helpers: a relay in a child process (for kill -9 tests), embedded or
 * scale-out, and a throwaway PostgreSQL server for scale-out tests.
 */
export { spawnRelayProcess, type RelayProcess, type RelayProcessOptions } from './relay-process.js';
export { startPostgres, findPostgresBin, freePort, type PostgresProcess } from './postgres-process.js';
export { startScaleOutServices, type ScaleOutServices } from './scale-out-services.js';
export { writeUntilKilled, type KillDuringWrites } from './writes-until-killed.js';
