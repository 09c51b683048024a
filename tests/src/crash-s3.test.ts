/**
 * The crash test on S3: two kith processes on an s3rver bucket, killed
 * with SIGKILL during import, push and pull at random moments.
 */
import { test } from 'node:test';
import { startS3rver } from '@kith/s3/testing';
import { runCrashRounds } from './crash-rounds.js';

const ROUNDS = Number(process.env['KITH_CRASH_ROUNDS_S3'] ?? 5);

test(`s3: kill -9 during import, push and pull (${ROUNDS} rounds) loses no acknowledged write`, { timeout: 15 * 60_000 }, async () => {
  const s3 = await startS3rver();
  try {
    const bucket = await s3.bucket();
    await runCrashRounds(ROUNDS, () => s3.url(bucket, 'crash'));
  } finally {
    await s3.stop();
  }
});
