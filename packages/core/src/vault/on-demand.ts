/**
 * @module vault/on-demand
 * What the Vault loads on first use rather than at start: creating,
 * restoring and joining a vault (lifecycle.ts), device changes
 * (device-admin.ts), the remote check (check/) and backups (backup.ts,
 * backup-restore.ts). One module, so a bundler
 * makes one chunk of them (and few chunks of what they share with the
 * start): a page that opens a vault and syncs fetches none of it.
 */
export { createVault, joinVault, restoreVault, setLocalPassphrase } from './lifecycle.js';
export { pair, removePassword, rename, revoke, rotateRecoveryCode, setPassword, withRegistry } from './device-admin.js';
export { checkRemote } from '../check/index.js';
export { backupVault } from './backup.js';
export { restoreFromBackup } from './backup-restore.js';
