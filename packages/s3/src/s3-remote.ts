/**
 * @module s3-remote
 * A remote on any S3 API (AWS S3, R2, MinIO, Ceph) through the AWS SDK v3,
 * loaded lazily so commands that do not use S3 stay fast and quiet. Every
 * HTTP attempt is counted in `stats`; retries follow our own policy
 * (retry.ts) with the SDK's retries off.
 */
import type {
  CompletedPart,
  GetObjectCommandOutput,
  ListObjectsV2CommandOutput,
  S3Client,
  S3ClientConfig,
} from '@aws-sdk/client-s3';
import {
  assertRemoteKey,
  assertRemotePrefix,
  ErrorCode,
  KithError,
  newRemoteStats,
  throwIfAborted,
  type GetOptions,
  type ListOptions,
  type PutOptions,
  type Remote,
  type RemoteCallOptions,
  type RemoteObjectInfo,
} from '@kith/core';
import { DEFAULT_RETRY, isTransient, statusOf, withRetry, type RetryPolicy } from './retry.js';
import { loadS3Sdk, type S3Sdk as Sdk } from './sdk.js';
import { parseS3Url, type S3Location } from './s3-url.js';

export interface S3RemoteOptions {
  /** Overrides for the SDK client (credentials, region, endpoint...). */
  readonly client?: Partial<S3ClientConfig>;
  readonly retry?: Partial<RetryPolicy>;
  /** Per-request timeout (default 30 s). */
  readonly requestTimeoutMs?: number;
  /**
   * The server honours `If-None-Match: *` on PUT (AWS S3 does since 2024,
   * R2 and MinIO too). Default false: put-if-absent is then a HEAD check,
   * which the core never relies on for correctness.
   */
  readonly conditionalWrites?: boolean;
  /** Objects above this size go up in multipart (default 8 MiB parts). */
  readonly partSize?: number;
}

const MIN_PART = 5 * 1024 * 1024;

export class S3Remote implements Remote {
  readonly url: string;
  readonly location: S3Location;
  readonly capabilities: { readonly putIfAbsent: boolean; readonly watch: boolean };
  readonly stats = newRemoteStats();
  readonly #sdk: Sdk;
  readonly #client: S3Client;
  readonly #retry: RetryPolicy;
  readonly #partSize: number;

  constructor(url: string, sdk: Sdk, o: S3RemoteOptions = {}) {
    this.url = url;
    this.location = parseS3Url(url);
    this.#sdk = sdk;
    this.#retry = { ...DEFAULT_RETRY, ...o.retry };
    this.#partSize = Math.max(MIN_PART, o.partSize ?? 8 * 1024 * 1024);
    this.capabilities = { putIfAbsent: o.conditionalWrites === true, watch: false };
    const l = this.location;
    this.#client = new sdk.S3Client({
      region: l.region ?? process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'] ?? 'us-east-1',
      ...(l.endpoint ? { endpoint: l.endpoint } : {}),
      forcePathStyle: l.forcePathStyle,
      maxAttempts: 1, // retries are ours: counted and bounded
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { requestTimeout: o.requestTimeoutMs ?? 30_000, connectionTimeout: 10_000 },
      ...o.client,
    });
  }

  #key(key: string): string {
    return this.location.prefix === '' ? key : `${this.location.prefix}/${key}`;
  }

  /** Maps a final SDK failure to a one-line KithError that says what to check. */
  #classify(what: string) {
    return (e: unknown): KithError => {
      if (e instanceof KithError) return e;
      const status = statusOf(e);
      const name = (e as { name?: string }).name ?? '';
      const bucket = this.location.bucket;
      if (name === 'NoSuchBucket' || (status === 404 && /bucket/i.test(String((e as Error).message)))) {
        return new KithError(ErrorCode.RemoteNotFound, `the bucket ${bucket} does not exist`, { cause: e, hint: 'create the bucket, or check its name, the region and the endpoint' });
      }
      if (status === 403 || status === 401 || /AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch|ExpiredToken|CredentialsProviderError/.test(name)) {
        return new KithError(ErrorCode.RemoteAuth, `access to s3://${bucket} was refused (${name || status})`, {
          cause: e,
          hint: 'check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE, and the bucket policy',
        });
      }
      if (status === 301 || name === 'PermanentRedirect') {
        return new KithError(ErrorCode.RemoteNotFound, `the bucket ${bucket} is in another region`, { cause: e, hint: 'add ?region=... to the remote URL' });
      }
      const detail = status ? `HTTP ${status}${name ? ` ${name}` : ''}` : (e as Error).message;
      return new KithError(ErrorCode.RemoteUnavailable, `S3 ${what} failed: ${detail}`, { cause: e });
    };
  }

  async #send<T>(what: string, count: () => void, make: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return withRetry(
      this.#retry,
      `S3 ${what}`,
      () => {
        count();
        return make();
      },
      this.#classify(what),
      signal,
    );
  }

  async put(key: string, bytes: Uint8Array, o: PutOptions = {}): Promise<void> {
    assertRemoteKey(key);
    throwIfAborted(o.signal);
    const Key = this.#key(key);
    if (o.ifAbsent && !this.capabilities.putIfAbsent && (await this.head(key, o))) return;
    if (bytes.length > this.#partSize) return this.#multipart(Key, bytes, o.signal);
    const { PutObjectCommand } = this.#sdk;
    try {
      await this.#send(
        `PUT ${key}`,
        () => {
          this.stats.puts++;
          this.stats.bytesSent += bytes.length;
        },
        () =>
          this.#client.send(
            new PutObjectCommand({
              Bucket: this.location.bucket,
              Key,
              Body: bytes,
              ContentLength: bytes.length,
              ...(o.ifAbsent && this.capabilities.putIfAbsent ? { IfNoneMatch: '*' } : {}),
            }),
            o.signal ? { abortSignal: o.signal } : {},
          ),
        o.signal,
      );
    } catch (e) {
      // 412: the object exists, which is all put-if-absent wanted to know.
      if (o.ifAbsent && e instanceof KithError && [412, 409].includes(statusOf(e.cause) ?? 0)) return;
      throw e;
    }
  }

  /** Multipart upload in parts of `partSize`; memory stays the object plus one part in flight. */
  async #multipart(Key: string, bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
    const { CreateMultipartUploadCommand, UploadPartCommand, CompleteMultipartUploadCommand, AbortMultipartUploadCommand } = this.#sdk;
    const Bucket = this.location.bucket;
    const opts = signal ? { abortSignal: signal } : {};
    const created = await this.#send('create multipart upload', () => this.stats.puts++, () => this.#client.send(new CreateMultipartUploadCommand({ Bucket, Key }), opts), signal);
    const UploadId = created.UploadId!;
    try {
      const parts: CompletedPart[] = [];
      for (let at = 0, n = 1; at < bytes.length; at += this.#partSize, n++) {
        const body = bytes.subarray(at, Math.min(bytes.length, at + this.#partSize));
        const res = await this.#send(
          `upload part ${n}`,
          () => {
            this.stats.puts++;
            this.stats.bytesSent += body.length;
          },
          () => this.#client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: n, Body: body, ContentLength: body.length }), opts),
          signal,
        );
        parts.push({ PartNumber: n, ETag: res.ETag! });
      }
      await this.#send('complete multipart upload', () => this.stats.puts++, () => this.#client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }), opts), signal);
    } catch (e) {
      await this.#client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => undefined);
      throw e;
    }
  }

  async get(key: string, o: GetOptions = {}): Promise<Uint8Array | null> {
    assertRemoteKey(key);
    throwIfAborted(o.signal);
    const { GetObjectCommand } = this.#sdk;
    const range = o.range ? `bytes=${o.range.offset}-${o.range.offset + o.range.length - 1}` : undefined;
    try {
      return await this.#send(
        `GET ${key}`,
        () => this.stats.gets++,
        async () => {
          let res: GetObjectCommandOutput;
          try {
            res = await this.#client.send(
              new GetObjectCommand({ Bucket: this.location.bucket, Key: this.#key(key), ...(range ? { Range: range } : {}) }),
              o.signal ? { abortSignal: o.signal } : {},
            );
          } catch (e) {
            if (statusOf(e) === 416) return new Uint8Array(0); // range past the end
            throw e;
          }
          const body = await res.Body!.transformToByteArray();
          // A connection cut mid-body must never pass for the whole object.
          if (res.ContentLength !== undefined && body.length !== res.ContentLength) {
            throw Object.assign(new Error(`truncated body (${body.length} of ${res.ContentLength} bytes)`), { name: 'Truncated' });
          }
          this.stats.bytesReceived += body.length;
          return body;
        },
        o.signal,
      );
    } catch (e) {
      if (e instanceof KithError && isMissingKey(e.cause)) return null;
      throw e;
    }
  }

  async head(key: string, o: RemoteCallOptions = {}): Promise<RemoteObjectInfo | null> {
    assertRemoteKey(key);
    throwIfAborted(o.signal);
    const { HeadObjectCommand } = this.#sdk;
    try {
      const res = await this.#send(
        `HEAD ${key}`,
        () => this.stats.heads++,
        () => this.#client.send(new HeadObjectCommand({ Bucket: this.location.bucket, Key: this.#key(key) }), o.signal ? { abortSignal: o.signal } : {}),
        o.signal,
      );
      return { key, size: res.ContentLength ?? 0, etag: res.ETag ?? '' };
    } catch (e) {
      if (e instanceof KithError && isMissingKey(e.cause)) return null;
      throw e;
    }
  }

  async list(prefix: string, o: ListOptions = {}): Promise<RemoteObjectInfo[]> {
    assertRemotePrefix(prefix);
    throwIfAborted(o.signal);
    const { ListObjectsV2Command } = this.#sdk;
    const base = this.location.prefix === '' ? '' : `${this.location.prefix}/`;
    const out: RemoteObjectInfo[] = [];
    let token: string | undefined;
    do {
      const want = o.limit === undefined ? 1000 : Math.min(1000, o.limit - out.length);
      const res: ListObjectsV2CommandOutput = await this.#send(
        `LIST ${prefix || '/'}`,
        () => this.stats.lists++,
        () =>
          this.#client.send(
            new ListObjectsV2Command({
              Bucket: this.location.bucket,
              Prefix: base + prefix,
              MaxKeys: want,
              ...(token ? { ContinuationToken: token } : o.after !== undefined ? { StartAfter: base + o.after } : {}),
            }),
            o.signal ? { abortSignal: o.signal } : {},
          ),
        o.signal,
      );
      for (const c of res.Contents ?? []) out.push({ key: c.Key!.slice(base.length), size: c.Size ?? 0, etag: c.ETag ?? '' });
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token && (o.limit === undefined || out.length < o.limit));
    return o.limit === undefined ? out : out.slice(0, o.limit);
  }

  async delete(key: string, o: RemoteCallOptions = {}): Promise<void> {
    assertRemoteKey(key);
    throwIfAborted(o.signal);
    const { DeleteObjectCommand } = this.#sdk;
    try {
      await this.#send(
        `DELETE ${key}`,
        () => this.stats.deletes++,
        () => this.#client.send(new DeleteObjectCommand({ Bucket: this.location.bucket, Key: this.#key(key) }), o.signal ? { abortSignal: o.signal } : {}),
        o.signal,
      );
    } catch (e) {
      if (e instanceof KithError && isMissingKey(e.cause)) return;
      throw e;
    }
  }

  async close(): Promise<void> {
    this.#client.destroy();
  }
}

function isMissingKey(e: unknown): boolean {
  const name = (e as { name?: string })?.name;
  return (name === 'NoSuchKey' || name === 'NotFound' || (statusOf(e) === 404 && name !== 'NoSuchBucket')) && !isTransient(e);
}

/** Opens an S3 remote for `s3://bucket/prefix?endpoint=...&region=...` (the SDK is loaded now). */
export async function openS3Remote(url: string, options: S3RemoteOptions = {}): Promise<S3Remote> {
  parseS3Url(url); // a bad URL fails before the SDK loads
  return new S3Remote(url, await loadS3Sdk(), options);
}
