/** Churn through S3 (an s3rver process) with the real SQLite store (see churn.test.support.ts). */
import { test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openS3Remote } from '@kith/s3';
import { startS3rver } from '@kith/s3/testing';
import { openSqliteStore } from '@kith/sqlite';
import { RECORDS, UPDATES, runChurn } from './churn.test.support.js';

test(
  `s3 (s3rver): churn ${RECORDS} records × ${UPDATES} updates, snapshot, compact: the remote within 2× of a fresh snapshot, a new device within 1.5×, an offline device keeps its writes`,
  { timeout: 10 * 60_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kith-churn-s3-'));
    const s3 = await startS3rver();
    try {
      const bucket = await s3.bucket();
      const figures = await runChurn({
        openRemote: (location) => openS3Remote(s3.url(bucket, location, s3.endpoint)),
        openStore: (name) => openSqliteStore(join(dir, `device-${name}`, 'kith.db')),
      });
      console.log(JSON.stringify(figures));
    } finally {
      await s3.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
