/**
 * @module @kith/sqlite
 * The Node store for Kith: better-sqlite3 in WAL mode.
 */
export { openSqliteStore, SqliteStore, type SqliteStoreOptions } from './sqlite-store.js';
