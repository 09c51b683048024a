/**
 * The space scenarios through a real S3 server process (s3rver). s3rver
 * ignores conditional writes, so the remote says it has no atomic
 * put-if-absent and the membership race scenario is skipped; invites and
 * tampered entries run.
 */
import { after } from 'node:test';
import { runSpaceScenarios } from '@kith/core/testing';
import { openS3Remote } from '@kith/s3';
import { startS3rver, type S3rverProcess } from '@kith/s3/testing';

let server: Promise<S3rverProcess> | undefined;
after(async () => (await server)?.stop());

runSpaceScenarios('s3 (s3rver)', async () => {
  const s3 = await (server ??= startS3rver());
  const bucket = await s3.bucket();
  return { openRemote: () => openS3Remote(s3.url(bucket, 'space', s3.endpoint), {}), cleanup: async () => undefined };
});
