/**
 * @module @kith/relay-server/testing
 * Test helpers: a relay in a child process (for kill -9 tests), embedded or
 * scale-out, and a throwaway PostgreSQL server for scale-out tests; real
 * vaults on an authenticating relay and the sync scenarios' harness on one
 * (these need `@kith/sqlite` and `@kith/core/testing`).
 */
export { spawnRelayProcess, type RelayProcess, type RelayProcessOptions } from './relay-process.js';
export { startPostgres, findPostgresBin, freePort, type PostgresProcess } from './postgres-process.js';
export { startScaleOutServices, type ScaleOutServices } from './scale-out-services.js';
export { writeUntilKilled, type KillDuringWrites } from './writes-until-killed.js';
export {
  startTestRelay,
  createTestVault,
  operatorRemote,
  scenarioRemote,
  withoutVaultObjects,
  GENEROUS_LIMITS,
  until,
  watchHeads,
  type TestVault,
  type TestRelay,
} from './test-vaults.js';
export { relayScenarioHarness } from './relay-scenarios.js';
