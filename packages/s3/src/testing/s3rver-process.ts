/**
 * @module testing/s3rver-process
 * A real S3 server for tests: s3rver in its own child process on loopback
 * with a fresh directory (Node 20 needs --openssl-legacy-provider for its
 * paginated listings). Credentials are s3rver's defaults, set in the
 * environment the way a user sets theirs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { CORSConfiguration } from '@aws-sdk/client-s3';
import { loadS3Sdk } from '../sdk.js';

/** A bucket's CORS rules, in the JSON of `aws s3api put-bucket-cors`. */
export type CorsConfiguration = CORSConfiguration;

export interface S3rverProcess {
  /** http://127.0.0.1:PORT */
  readonly endpoint: string;
  /** Where the server keeps its buckets (removed on stop). */
  readonly directory: string;
  /** Creates a bucket (a fresh random name unless given) and returns its name. */
  bucket(name?: string): Promise<string>;
  /** Sets a bucket's CORS configuration, as `aws s3api put-bucket-cors` does (`{ CORSRules: [...] }`). */
  cors(bucket: string, configuration: CorsConfiguration): Promise<void>;
  /** An s3:// URL for a bucket and prefix on this server, optionally through another endpoint (a proxy). */
  url(bucket: string, prefix?: string, endpoint?: string): string;
  stop(): Promise<void>;
}

/** Sets s3rver's default credentials for the AWS SDK's standard chain. */
export function useS3rverCredentials(): void {
  process.env['AWS_ACCESS_KEY_ID'] ??= 'S3RVER';
  process.env['AWS_SECRET_ACCESS_KEY'] ??= 'S3RVER';
  process.env['AWS_REGION'] ??= 'us-east-1';
}

let buckets = 0;

/**
 * Starts s3rver in its own child process on 127.0.0.1 (a free port, a
 * fresh temp directory) and resolves once it listens. The child exits on
 * `stop()`, and by itself if this process dies (its stdin closes), so a
 * crashed test leaves no server behind.
 *
 * @example
 * const s3 = await startS3rver();
 * const remote = await openS3Remote(s3.url(await s3.bucket(), 'vault'));
 */
export async function startS3rver(): Promise<S3rverProcess> {
  useS3rverCredentials();
  const dir = mkdtempSync(join(tmpdir(), 'kith-s3rver-'));
  const runner = fileURLToPath(new URL('./s3rver-runner.js', import.meta.url));
  const child: ChildProcess = spawn(process.execPath, ['--openssl-legacy-provider', runner, dir], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`s3rver did not start within 15 s: ${stderr}`)), 15_000);
      createInterface({ input: child.stdout! }).once('line', (line) => {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { port: number }).port);
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`s3rver exited (${child.exitCode}): ${stderr}`));
      });
    });
  } catch (e) {
    child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const endpoint = `http://127.0.0.1:${port}`;
  const { S3Client, CreateBucketCommand, PutBucketCorsCommand } = await loadS3Sdk();
  const admin = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1' });
  return {
    endpoint,
    directory: dir,
    async bucket(name = `kith-test-${process.pid}-${++buckets}-${Math.random().toString(36).slice(2, 8)}`) {
      await admin.send(new CreateBucketCommand({ Bucket: name }));
      return name;
    },
    async cors(bucket, configuration) {
      await admin.send(new PutBucketCorsCommand({ Bucket: bucket, CORSConfiguration: configuration }));
    },
    url: (bucket, prefix = '', via = endpoint) => `s3://${bucket}/${prefix}?endpoint=${encodeURIComponent(via)}`,
    async stop() {
      admin.destroy();
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
