/**
 * @module @kith/core/adapter
 * For writing a Store, a Remote or a BlobCache: the port interfaces with
 * their contracts, the error helpers adapters throw with, and the object-key
 * layout a remote holds (adapters store bytes under these keys and never
 * interpret them). Every adapter runs the conformance suites of
 * `@kith/core/testing`.
 */
export { ErrorCode, KithError, isIntegrityError } from './base/errors.js';
// Byte helpers remotes need (comparing keys, base64url on the wire), without `@kith/core/relay`'s key code.
export { bytesEqual, fromBase64url, toBase64url } from './crypto/bytes.js';

// Remote: bytes under opaque keys.
export type {
  GetOptions,
  ListOptions,
  PutOptions,
  PutOutcome,
  Remote,
  RemoteCallOptions,
  RemoteCapabilities,
  RemoteDeviceKey,
  RemoteObjectInfo,
} from './ports/remote.js';
export { MAX_REMOTE_KEY_BYTES, abortableSleep, assertRemoteKey, assertRemotePrefix, throwIfAborted } from './ports/remote.js';
// Powers only some remotes have, each a named interface with a type guard;
// decorators forward every power of the remote they wrap.
export type { BatchGetRemote, DeviceKeyRemote, ListedGetOptions, ListedReadRemote, WatchableRemote } from './ports/capabilities.js';
export { canGetMany, canWatch, decorateRemote, getListed, lendDeviceKey, readsListed, usesDeviceKey } from './ports/capabilities.js';
// Request counting as a decorator (tests, benchmarks); adapters that send
// several requests per verb report each one.
export type { CountingRemote, RemoteRequestKind, RemoteStats, RemoteTraffic, TrafficReportingRemote } from './ports/counting.js';
export { countingRemote, reportsTraffic, TrafficReports } from './ports/counting.js';
// One retry loop with a budget for every adapter.
export type { RetryDeps, RetryExhaustion, RetryOptions, RetryPolicy, RetryVerdict } from './ports/retry.js';
export { backoff, DEFAULT_RETRY_POLICY, retry, RetryBudget } from './ports/retry.js';
export { remoteKeys } from './format/remote-keys.js';
export { blobKeys } from './format/blob-format.js';

// Store: the device's local copy.
export type { FieldFilter, LogEntry, LogFilter, OutboxEntry, RecordPage, RecordQuery, RecordRow, Store, StoreTx } from './ports/store.js';
export type { JsonObject, JsonPrimitive, JsonValue } from './model/json.js';
// The one-write merge state, which stores may keep as a marker; column text a reader attached to rows it parsed.
export { isOneWriteState, oneWriteState } from './model/one-write.js';
export type { RowText } from './ports/row-text.js';
export { objectOfText, oneWriteRow, oneWriteText, rowText, rowTextNotObject } from './ports/row-text.js';
// The history entry an own op stands for (StoreTx.appendOwnOps).
export { historyOfOwnOp, ownOpStamp } from './sync/apply.js';
// A put on an empty record, which a store may keep by reference to the record's row (StoreTx.appendOwnOps).
export { emptyPutOp, isEmptyPutOp } from './model/local-writes.js';

// BlobCache: decrypted blob bytes kept on the device.
export type { BlobCache, CachedObject } from './ports/blob-cache.js';
