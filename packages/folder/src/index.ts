/**
 * @module @kith/folder
 * A Kith remote in a directory (NAS share, USB stick, synced folder).
 */
export { FolderRemote, openFolderRemote, FOLDER_TMP_DIR, STALE_TMP_MS, type OpenFolderOptions } from './folder-remote.js';
export { parseFolderUrl } from './folder-url.js';
