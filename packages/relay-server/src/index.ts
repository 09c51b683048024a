/**
 * @module @kith/relay-server
 * The relay server (Node only): `startRelay` in embedded mode (SQLite), or
 * in scale-out mode with `openScaleOut` (PostgreSQL + S3 + LISTEN/NOTIFY).
 */
export { startRelay, DEFAULT_BODY_LIMIT, DEFAULT_SCALE_OUT_REGISTRY_TRUST_MS, type RelayOptions, type RunningRelay } from './relay-server.js';
export { DEFAULT_QUOTA_BYTES, DEFAULT_RATE_LIMITS, type Rate, type RelayRateLimits } from './auth/limits.js';
export { jsonLineLogger, silentLogger, type RelayLogEvent, type RelayLogger } from './relay-log.js';
export type { Durability } from './object-db.js';
export { LocalChangeBus, MISSED_CHANGES, type ChangeBus, type KeyChange, type RelayStorage, type ObjectPage, type ByteRange } from './relay-storage.js';
export {
  openScaleOut,
  openPgS3Storage,
  PgS3Storage,
  DEFAULT_INLINE_MAX,
  UPLOADS,
  PROBE_KEY,
  openPgChangeBus,
  PgChangeBus,
  NOTIFY_PAYLOAD_LIMIT,
  SCHEMA_VERSION,
  parseRelaySecret,
  relaySecretFrom,
  type ScaleOutOptions,
  type PgS3StorageOptions,
  type PgChangeBusOptions,
} from './scale-out/index.js';
