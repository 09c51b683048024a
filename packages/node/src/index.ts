/**
 * @module @kith/node
 * Node-only helpers for apps that use Kith as a library: `openRemote(url)`
 * with a registry of URL schemes, and the file-system blob cache.
 */
export { openRemote, registerRemoteScheme, remoteSchemes, type OpenRemoteOptions, type RemoteOpener } from './open-remote.js';
export { openFsBlobCache, PackBlobCache } from './pack-blob-cache.js';
export { FsBlobCache } from './fs-blob-cache.js';
export { nodeSpaceRemotes, spaceRemoteUrl } from './space-remotes.js';
