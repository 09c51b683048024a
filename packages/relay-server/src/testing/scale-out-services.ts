/**
 * @module testing/scale-out-services
 * What a scale-out relay needs, for tests: a throwaway PostgreSQL server
 * and an s3rver process, with a fresh database and bucket on demand.
 */
import { startS3rver, type S3rverProcess } from '@kith/s3/testing';
import { startPostgres, type PostgresProcess } from './postgres-process.js';

/** PostgreSQL and S3 servers for scale-out tests (see {@link startScaleOutServices}). */
export interface ScaleOutServices {
  readonly postgres: PostgresProcess;
  readonly s3: S3rverProcess;
  /** A fresh database and bucket: the `postgres` and `s3` URLs a relay process takes. */
  fresh(): Promise<{ readonly postgres: string; readonly s3: string }>;
  /** Stops both servers and removes their data. */
  stop(): Promise<void>;
}

/**
 * Starts PostgreSQL and s3rver side by side (about a second); `crashSafe`:
 * see {@link startPostgres}.
 *
 * @example
 * const services = await startScaleOutServices();
 * const relay = await startRelay(await openScaleOut(await services.fresh()));
 */
export async function startScaleOutServices(o: { readonly crashSafe?: boolean } = {}): Promise<ScaleOutServices> {
  const [pgResult, s3Result] = await Promise.allSettled([startPostgres(o), startS3rver()]);
  if (pgResult.status === 'rejected' || s3Result.status === 'rejected') {
    if (pgResult.status === 'fulfilled') await pgResult.value.stop();
    if (s3Result.status === 'fulfilled') await s3Result.value.stop();
    throw pgResult.status === 'rejected' ? pgResult.reason : (s3Result as PromiseRejectedResult).reason;
  }
  const postgres = pgResult.value;
  const s3 = s3Result.value;
  return {
    postgres,
    s3,
    async fresh() {
      const [db, bucket] = await Promise.all([postgres.database(), s3.bucket()]);
      return { postgres: db, s3: s3.url(bucket, 'relay') };
    },
    async stop() {
      await Promise.all([postgres.stop(), s3.stop()]);
    },
  };
}
