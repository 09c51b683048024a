/**
 * @module @kith/core/adapter
 * For writing a Store, a Remote or a BlobCache: the port interfaces with
 * their contracts, the error helpers adapters throw with, and the object-key
 * layout a remote holds (adapters store bytes under these keys and never
 * interpret them). Every adapter runs the conformance suites of
 * `@kith/core/testing`.
 */
export { ErrorCode, KithError, isIntegrityError } from './base/errors.js';

// Remote: bytes under opaque keys.
export type {
  GetOptions,
  ListOptions,
  PutOptions,
  Remote,
  RemoteCallOptions,
  RemoteCapabilities,
  RemoteDeviceKey,
  RemoteObjectInfo,
  RemoteStats,
} from './ports/remote.js';
export { MAX_REMOTE_KEY_BYTES, abortableSleep, assertRemoteKey, assertRemotePrefix, newRemoteStats, throwIfAborted } from './ports/remote.js';
export { remoteKeys } from './format/remote-keys.js';
export { blobKeys } from './format/blob-format.js';

// Store: the device's local copy.
export type { FieldFilter, LogEntry, LogFilter, OutboxEntry, RecordPage, RecordQuery, RecordRow, Store, StoreTx } from './ports/store.js';
export type { JsonObject, JsonPrimitive, JsonValue } from './model/json.js';

// BlobCache: decrypted blob bytes kept on the device.
export type { BlobCache, CachedObject } from './ports/blob-cache.js';
