/**
 * Read-after-write for the test S3 server. s3rver 3.7 answers a PUT once the
 * body has passed into a write stream that truncated the object's file and its
 * MD5 and metadata files are written, without waiting for that stream: on a
 * loaded machine the object's last write can come after the answer, and a GET
 * right after a PUT that replaced an object read 0 bytes (seen in CI: a chunk
 * a test put back, then read as empty).
 * Real S3 and MinIO are strongly consistent, so every test that writes and
 * then reads depends on it. Here the object goes to a temporary file renamed
 * over the object's once whole (a reader sees the old object or the new one,
 * never a part); its MD5 and metadata are then written by s3rver's own
 * putMetadata, as before, and the PUT answers after them. Loaded by
 * s3rver-runner.ts before the server starts.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, unlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** The parts of s3rver's FilesystemStore (lib/stores/filesystem.js) this patch uses and replaces. */
interface FilesystemStore {
  getResourcePath(bucket: string, key: string, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5: string): Promise<void>;
  putObject(object: { bucket: string; key: string; content: Buffer | Readable; metadata: Record<string, string> }): Promise<{ size: number; md5: string }>;
}

const require = createRequire(import.meta.url);
const store = (require('s3rver/lib/stores/filesystem.js') as { prototype: FilesystemStore }).prototype;

let written = 0;

store.putObject = async function (this: FilesystemStore, object) {
  const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
  await mkdir(dirname(objectPath), { recursive: true });
  // Beside the object: s3rver lists only names ending in its own suffixes, never this one.
  const temp = `${objectPath}.${process.pid}-${++written}.tmp`;
  const hash = createHash('md5');
  let size = 0;
  const count = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  try {
    // A form upload's body comes as one Buffer, a PUT's as the request stream.
    const body = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content;
    await pipeline(body, count, createWriteStream(temp));
    await rename(temp, objectPath);
  } catch (e) {
    await unlink(temp).catch(() => undefined);
    throw e;
  }
  const md5 = hash.digest('hex');
  await this.putMetadata(object.bucket, object.key, object.metadata, md5);
  return { size, md5 };
};
