/**
 * @module tabs
 * Tabs that cooperate: one IndexedDB device open in any number of tabs of an origin.
 */
export { openTabVault, TabCoordinator, type TabCoordinatorOptions, type TabVault, type TabVaultOptions } from './tab-vault.js';
export { electLeader, HEARTBEAT_MS, HIDDEN_LEASE_MS, LEASE_MS, type Leadership } from './leadership.js';
