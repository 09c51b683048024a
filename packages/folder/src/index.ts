/**
 * @module @kith/folder
 * A Kith remote in a directory.
 */
export { FolderRemote, openFolderRemote } from './folder-remote.js';
export { parseFolderUrl } from './folder-url.js';
