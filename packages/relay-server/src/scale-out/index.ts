/**
 * @module server/scale-out
 * Scale-out mode: stateless relay processes that keep metadata in
 * PostgreSQL, bytes in any S3 API, and fan out changes with LISTEN/NOTIFY.
 */
import { openPgChangeBus, type PgChangeBus, type PgChangeBusOptions } from './pg-change-bus.js';
import { openPgS3Storage, type PgS3Storage, type PgS3StorageOptions } from './pg-s3-storage.js';

export { openPgS3Storage, PgS3Storage, DEFAULT_INLINE_MAX, UPLOADS, PROBE_KEY, type PgS3StorageOptions } from './pg-s3-storage.js';
export { openPgChangeBus, PgChangeBus, NOTIFY_PAYLOAD_LIMIT, type PgChangeBusOptions } from './pg-change-bus.js';
export { parsePostgresUrl, type PostgresTarget } from './pg-connect.js';
export { migrate, SCHEMA_VERSION } from './pg-schema.js';
export { parseRelaySecret, relaySecretFrom, MIN_SECRET_BYTES } from './shared-secret.js';

/** Options of {@link openScaleOut}: the storage's, plus the bus's channel and reconnect settings. */
export type ScaleOutOptions = PgS3StorageOptions & Omit<PgChangeBusOptions, 'postgres' | 'logger'>;

/**
 * Opens the storage and the change bus of one scale-out relay process;
 * hand both to `startRelay`, which closes them with the relay.
 *
 * @example
 * const relay = await startRelay({ port: 8787, ...(await openScaleOut({ postgres: 'postgres://kith@db/kith', s3: 's3://kith-relay/objects' })) });
 */
export async function openScaleOut(o: ScaleOutOptions): Promise<{ storage: PgS3Storage; bus: PgChangeBus }> {
  const storage = await openPgS3Storage(o);
  try {
    const bus = await openPgChangeBus(o);
    return { storage, bus };
  } catch (e) {
    await storage.close();
    throw e;
  }
}
