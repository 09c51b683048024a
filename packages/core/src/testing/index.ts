/**
 * @module @kith/core/testing
 * Conformance suites that every Store and every Remote adapter runs, and
 * test helpers. Node-only (uses node:test); not part of the browser build.
 */
export { runStoreConformance, type StoreHarness } from './store-conformance.js';
// The store contract's ordering, written plainly, for adapters' own query tests.
export { compareCodePoints, referenceQuery } from './store-conformance.js';
export { runRemoteConformance, type RemoteConformanceOptions, type RemoteHarness } from './remote-conformance.js';
export { runSyncScenarios, type ScenarioHarness, type ScenarioOptions } from './sync-scenarios.js';
export { runCheckScenarios } from './check-scenarios.js';
export { runSpaceScenarios, type SpaceScenarioHarness } from './space-scenarios.js';
export { newMemoryStoreData, openMemoryStore, type MemoryStoreData } from './memory-store.js';
export { openMemoryRemote } from './memory-remote.js';
export { MemoryBlobCache } from './memory-blob-cache.js';
// Deterministic randomness for `deps.random`, so a failing seed replays.
export { seededRandom } from '../base/deps.js';
// A row carrying its fields only as text (a snapshot's row as a bulk load hands it on): for stores that check texts.
export { textRow } from '../ports/row-text.js';
// Benchmarks bound blob costs by the chunker's average chunk size.
export { AVG_CHUNK } from '../blobs/chunker.js';
