/** Issue #16's three people through S3 (a real s3rver process; see spaces-cli.test.support.ts): each vault under its own prefix, the space under A's. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startS3rver } from '@kith/s3/testing';
import { threePeopleScenario } from './spaces-cli.test.support.js';

threePeopleScenario('S3', async () => {
  const s3 = await startS3rver();
  const bucket = await s3.bucket();
  const dir = mkdtempSync(join(tmpdir(), 'kith-spaces-s3-cli-'));
  return {
    dir,
    remoteOf: (person) => s3.url(bucket, `person-${person}`),
    cleanup: async () => {
      await s3.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
