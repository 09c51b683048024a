/**
 * Read-after-write for the test S3 server. s3rver 3.7 answers a PUT once the
 * body has passed into a write stream that truncated the object's file and its
 * MD5 and metadata files are written, without waiting for that stream: on a
 * loaded machine the object's last write can come after the answer, and a GET
 * right after a PUT that replaced an object read 0 bytes (seen in CI: a chunk
 * a test put back, then read as empty).
 * Real S3 and MinIO are strongly consistent, so every test that writes and
 * then reads depends on it. Here each PUT writes temporary files and renames
 * them over the object's, its MD5 and its metadata once they are whole, so a
 * reader sees the old object or the new one, never a part. Loaded by
 * s3rver-runner.ts before the server starts.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** The parts of s3rver's FilesystemStore (lib/stores/filesystem.js) this patch uses and replaces. */
interface FilesystemStore {
  getResourcePath(bucket: string, key: string, resource: string): string;
  putObject(object: { bucket: string; key: string; content: Buffer | Readable; metadata: Record<string, string> }): Promise<{ size: number; md5: string }>;
}

/** Metadata entries s3rver keeps (its S3Object.ALLOWED_METADATA), besides every x-amz-meta-*. */
interface S3ObjectModel {
  ALLOWED_METADATA: string[];
}

const require = createRequire(import.meta.url);
const store = (require('s3rver/lib/stores/filesystem.js') as { prototype: FilesystemStore }).prototype;
const { ALLOWED_METADATA } = require('s3rver/lib/models/object.js') as S3ObjectModel;

let written = 0;
/** A temporary name beside `path`: s3rver lists only names ending in its own suffixes, never this one. */
const tempOf = (path: string): string => `${path}.${process.pid}-${++written}.tmp`;

store.putObject = async function (this: FilesystemStore, object) {
  const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
  const md5Path = this.getResourcePath(object.bucket, object.key, 'object.md5');
  const metadataPath = this.getResourcePath(object.bucket, object.key, 'metadata.json');
  await mkdir(dirname(objectPath), { recursive: true });
  const temps = [tempOf(objectPath), tempOf(md5Path), tempOf(metadataPath)] as const;
  try {
    const hash = createHash('md5');
    let size = 0;
    if (Buffer.isBuffer(object.content)) {
      hash.update(object.content);
      size = object.content.length;
      await writeFile(temps[0], object.content);
    } else {
      const count = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          hash.update(chunk);
          size += chunk.length;
          done(null, chunk);
        },
      });
      await pipeline(object.content, count, createWriteStream(temps[0]));
    }
    const md5 = hash.digest('hex');
    const kept = Object.fromEntries(Object.entries(object.metadata).filter(([name]) => ALLOWED_METADATA.includes(name) || name.startsWith('x-amz-meta-')));
    await writeFile(temps[1], md5);
    await writeFile(temps[2], JSON.stringify(kept, null, 2));
    // The MD5 and metadata first: a reader stats the object, then reads them.
    await rename(temps[1], md5Path);
    await rename(temps[2], metadataPath);
    await rename(temps[0], objectPath);
    return { size, md5 };
  } catch (e) {
    await Promise.all(temps.map((t) => unlink(t).catch(() => undefined)));
    throw e;
  }
};
