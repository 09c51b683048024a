/**
 * @module @kith/relay/server
 * The relay server (Node only): `startRelay` in embedded mode (SQLite).
 */
export { startRelay, DEFAULT_BODY_LIMIT, type RelayOptions, type RunningRelay } from './relay-server.js';
export { jsonLineLogger, silentLogger, type RelayLogEvent, type RelayLogger } from './relay-log.js';
export type { Durability } from './object-db.js';
export { LocalChangeBus, type ChangeBus, type KeyChange, type RelayStorage, type ObjectPage, type ByteRange } from './relay-storage.js';
