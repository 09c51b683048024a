/**
 * @module blobs
 * Attachments: chunked, encrypted, deduplicated blobs.
 */
export * from './blob-cache.js';
export * from './blob-format.js';
export * from './blobs.js';
export { Chunker, gearTable, MIN_CHUNK, AVG_CHUNK, MAX_CHUNK } from './chunker.js';
