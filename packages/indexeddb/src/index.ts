/**
 * @module @kith/indexeddb
 * The browser store for Kith: one IndexedDB database per device.
 */
export { openIndexedDbStore, IndexedDbStore, databaseName, type IndexedDbStoreOptions } from './idb-store.js';
export { openTabVault, TabCoordinator, electLeader, type Leadership, type TabCoordinatorOptions, type TabVault, type TabVaultOptions } from './tabs/index.js';
export { openBrowserBlobCache, cacheDatabaseName, IdbBlobCache, OpfsBlobCache, type BrowserBlobCache } from './blob-cache/index.js';
