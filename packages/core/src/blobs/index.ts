/**
 * @module blobs
 * Attachments: chunked, encrypted, deduplicated blobs.
 */
export * from '../ports/blob-cache.js';
export * from '../format/blob-format.js';
export * from './blobs.js';
export { Chunker, gearTable, MIN_CHUNK, AVG_CHUNK, MAX_CHUNK } from './chunker.js';
