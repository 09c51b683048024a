/**
 * @module s3-remote
 * A remote on any S3 API (AWS S3, R2, MinIO, Ceph) through the AWS SDK v3,
 * loaded lazily so commands that do not use S3 stay fast and quiet. Every
 * HTTP attempt is reported to `onTraffic` (for `countingRemote`); retries follow our own policy
 * (retry.ts) with the SDK's retries off.
 */
import type { CompletedPart, GetObjectCommandOutput, ListObjectsV2CommandOutput, S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { ErrorCode, KithError } from '@kith/core';
import {
  assertRemoteKey,
  assertRemotePrefix,
  TrafficReports,
  throwIfAborted,
  type GetOptions,
  type ListOptions,
  type PutOptions,
  type PutOutcome,
  type RemoteTraffic,
  type RemoteCallOptions,
  type RemoteCapabilities,
  type RemoteObjectInfo,
  type TrafficReportingRemote,
} from '@kith/core/adapter';
import { Slots } from './slots.js';
import { DEFAULT_RETRY, isTransient, RetryBudget, statusOf, withRetry, type RetryPolicy } from './retry.js';
import { envVar, loadS3Sdk, type S3Sdk } from './sdk.js';
import { md5Hex } from './md5.js';
import { parseS3Url, type S3Location } from './s3-url.js';

/** Options of {@link openS3Remote}; every one has a sensible default. */
export interface S3RemoteOptions {
  /** Overrides for the SDK client config (credentials, region, endpoint...), applied last. */
  readonly client?: Partial<S3ClientConfig>;
  /** Overrides for the retry policy ({@link DEFAULT_RETRY}). */
  readonly retry?: Partial<RetryPolicy>;
  /**
   * A request that makes no progress (no byte sent or received) for this
   * long is abandoned and retried (default 30 s). Connecting has its own
   * 10 s limit.
   */
  readonly requestTimeoutMs?: number;
  /**
   * Whether the server honours `If-None-Match: *` on PUT (AWS S3, R2 and
   * MinIO do; s3rver does not). Default: the URL's `conditionalWrites`
   * option, else true for AWS itself (no endpoint) and false for any other
   * endpoint. When false, put-if-absent is a HEAD check and then a plain
   * PUT, which the core never relies on for correctness.
   */
  readonly conditionalWrites?: boolean;
  /** Objects larger than this go up in multipart, in parts of this size (default 8 MiB, at least 5 MiB). */
  readonly partSize?: number;
  /** Parts in flight at once (default 4): extra memory stays within `partSize × partConcurrency`. */
  readonly partConcurrency?: number;
  /**
   * Check a whole-object GET against its ETag when the ETag is the MD5 of
   * the bytes (single-part, not KMS or customer-key encrypted); a mismatch
   * is retried like a torn body. Default true; turn it off for a server
   * whose ETags are something else.
   */
  readonly verifyMd5?: boolean;
}

/** The SDK's HTTP agent opens at most 50 sockets per host; more requests at once would queue inside it. */
const MAX_IN_FLIGHT = 50;
const MIN_PART = 5 * 1024 * 1024;
const DEFAULT_PART = 8 * 1024 * 1024;
/** A single-part ETag: the quoted MD5 of the bytes. Multipart ETags end in `-N`. */
const MD5_ETAG = /^"?([0-9a-f]{32})"?$/i;

/** A failed attempt whose response body was not the object (cut short or altered): retried. */
const tornBody = (why: string): Error => Object.assign(new Error(why), { name: 'Truncated' });

/** A put's answer that the key now holds its bytes (see PutOutcome). */
const STORED: PutOutcome = { stored: true };

/**
 * The S3 {@link Remote}: keys live under `<prefix>/<key>` in one bucket.
 * Open it with {@link openS3Remote}.
 */
export class S3Remote implements TrafficReportingRemote {
  readonly url: string;
  /** The parsed URL. */
  readonly location: S3Location;
  readonly capabilities: RemoteCapabilities;
  readonly #traffic = new TrafficReports();
  readonly #sdk: S3Sdk;
  readonly #client: S3Client;
  readonly #retry: RetryPolicy;
  readonly #budget: RetryBudget;
  readonly #partSize: number;
  readonly #partConcurrency: number;
  readonly #verifyMd5: boolean;
  readonly #slots = new Slots(MAX_IN_FLIGHT);

  /** Prefer {@link openS3Remote}, which loads the SDK. */
  constructor(url: string, sdk: S3Sdk, o: S3RemoteOptions = {}) {
    this.url = url;
    const l = (this.location = parseS3Url(url));
    this.#sdk = sdk;
    this.#retry = { ...DEFAULT_RETRY, ...o.retry };
    this.#budget = new RetryBudget(this.#retry.budget);
    this.#partSize = Math.max(MIN_PART, o.partSize ?? DEFAULT_PART);
    this.#partConcurrency = Math.max(1, o.partConcurrency ?? 4);
    this.#verifyMd5 = o.verifyMd5 ?? true;
    // AWS itself honours If-None-Match; an unknown endpoint is not trusted to.
    const onAws = l.endpoint === undefined && !envVar('AWS_ENDPOINT_URL_S3') && !envVar('AWS_ENDPOINT_URL');
    this.capabilities = { putIfAbsent: o.conditionalWrites ?? l.conditionalWrites ?? onAws, watch: false };
    const idleMs = o.requestTimeoutMs ?? 30_000;
    this.#client = new sdk.S3Client({
      region: l.region ?? envVar('AWS_REGION') ?? envVar('AWS_DEFAULT_REGION') ?? 'us-east-1',
      ...(l.endpoint ? { endpoint: l.endpoint } : {}),
      forcePathStyle: l.forcePathStyle,
      maxAttempts: 1, // retries are ours: counted and bounded
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { socketTimeout: idleMs, connectionTimeout: Math.min(idleMs, 10_000) },
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
        return new KithError(ErrorCode.RemoteNotFound, `the bucket ${bucket} does not exist`, {
          cause: e,
          hint: 'create the bucket, or check its name, the region and the endpoint',
        });
      }
      const credentialsHint = 'check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE, and the bucket policy';
      if (name === 'CredentialsProviderError') {
        return new KithError(ErrorCode.RemoteAuth, `no AWS credentials found for s3://${bucket}`, { cause: e, hint: credentialsHint });
      }
      if (status === 403 || status === 401 || /AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch|ExpiredToken|InvalidToken/.test(name)) {
        return new KithError(ErrorCode.RemoteAuth, `access to s3://${bucket} was refused (${name || status})`, { cause: e, hint: credentialsHint });
      }
      if (status === 301 || name === 'PermanentRedirect') {
        return new KithError(ErrorCode.RemoteNotFound, `the bucket ${bucket} is in another region`, { cause: e, hint: 'add ?region=... to the remote URL' });
      }
      const detail = status ? `HTTP ${status}${name ? ` ${name}` : ''}` : String((e as Error)?.message ?? e).split('\n')[0];
      return new KithError(ErrorCode.RemoteUnavailable, `S3 ${what} failed: ${detail}`, { cause: e });
    };
  }

  /**
   * One logical call: `count` runs before every HTTP attempt, retries
   * included. Attempts wait for a slot here rather than in the HTTP
   * agent's queue, where the SDK's connect timeout would already be
   * running: a burst of calls (a thousand puts at once) on a slow link or
   * a loaded machine would otherwise time out while merely queued.
   */
  #send<T>(what: string, count: () => void, make: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    const attempt = (): Promise<T> =>
      this.#slots.run(() => {
        count();
        return make();
      });
    return withRetry(`S3 ${what}`, attempt, { policy: this.#retry, budget: this.#budget, classify: this.#classify(what), signal });
  }

  async put(key: string, bytes: Uint8Array, o: PutOptions = {}): Promise<void | PutOutcome> {
    assertRemoteKey(key);
    throwIfAborted(o.signal);
    const Key = this.#key(key);
    const conditional = o.ifAbsent === true && this.capabilities.putIfAbsent;
    if (o.ifAbsent && !conditional && (await this.head(key, o))) return undefined;
    // A conditional write S3 accepted created the object: its answer (a 412 after a retry of a write that
    // had landed says nothing, so that case gives no outcome and the caller reads back).
    const outcome = conditional ? STORED : undefined;
    try {
      if (bytes.length > this.#partSize) {
        await this.#multipart(Key, bytes, conditional, o.signal);
        return outcome;
      }
      const { PutObjectCommand } = this.#sdk;
      const input = { Bucket: this.location.bucket, Key, Body: bytes, ContentLength: bytes.length, ...(conditional ? { IfNoneMatch: '*' } : {}) };
      await this.#send(
        `PUT ${key}`,
        () => this.#countPut(bytes.length),
        () => this.#client.send(new PutObjectCommand(input), abortable(o.signal)),
        o.signal,
      );
      return outcome;
    } catch (e) {
      // 412 (409 while a rival write is in flight): the object exists, which is all put-if-absent asks.
      if (conditional && e instanceof KithError && [412, 409].includes(statusOf(e.cause) ?? 0)) return undefined;
      throw e;
    }
  }

  #countPut(bytes: number): void {
    this.#traffic.report({ request: 'put', bytesSent: bytes });
  }

  /**
   * Multipart upload: parts are views of `bytes` (no copies) with at most
   * `partConcurrency` in flight. Any failure aborts the upload so no
   * orphaned parts stay billed.
   */
  async #multipart(Key: string, bytes: Uint8Array, conditional: boolean, signal: AbortSignal | undefined): Promise<void> {
    const { CreateMultipartUploadCommand, UploadPartCommand, CompleteMultipartUploadCommand, AbortMultipartUploadCommand } = this.#sdk;
    const Bucket = this.location.bucket;
    const created = await this.#send(
      'create multipart upload',
      () => this.#countPut(0),
      () => this.#client.send(new CreateMultipartUploadCommand({ Bucket, Key }), abortable(signal)),
      signal,
    );
    const UploadId = created.UploadId;
    if (!UploadId) throw new KithError(ErrorCode.RemoteUnavailable, 'S3 create multipart upload returned no upload id');
    const count = Math.ceil(bytes.length / this.#partSize);
    const parts: CompletedPart[] = [];
    let next = 0;
    let failed = false;
    const worker = async (): Promise<void> => {
      while (!failed && next < count) {
        const i = next++;
        const Body = bytes.subarray(i * this.#partSize, Math.min(bytes.length, (i + 1) * this.#partSize));
        try {
          const res = await this.#send(
            `upload part ${i + 1}/${count}`,
            () => this.#countPut(Body.length),
            () => this.#client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body, ContentLength: Body.length }), abortable(signal)),
            signal,
          );
          parts[i] = { PartNumber: i + 1, ETag: res.ETag };
        } catch (e) {
          failed = true;
          throw e;
        }
      }
    };
    try {
      // Wait for every worker, so no part lands after the abort below.
      const settled = await Promise.allSettled(Array.from({ length: Math.min(this.#partConcurrency, count) }, worker));
      const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failure) throw failure.reason;
      const complete = { Bucket, Key, UploadId, MultipartUpload: { Parts: parts }, ...(conditional ? { IfNoneMatch: '*' } : {}) };
      await this.#send(
        'complete multipart upload',
        () => this.#countPut(0),
        () => this.#client.send(new CompleteMultipartUploadCommand(complete), abortable(signal)),
        signal,
      );
    } catch (e) {
      this.#traffic.report({ request: 'delete' }); // AbortMultipartUpload is a DELETE; best effort, never with the caller's (maybe fired) signal
      await this.#client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => undefined);
      throw e;
    }
  }

  async get(key: string, o: GetOptions = {}): Promise<Uint8Array | null> {
    assertRemoteKey(key);
    throwIfAborted(o.signal);
    const { GetObjectCommand } = this.#sdk;
    const range = o.range ? `bytes=${o.range.offset}-${o.range.offset + o.range.length - 1}` : undefined;
    if (o.range && o.range.length <= 0) return (await this.head(key, o)) ? new Uint8Array(0) : null;
    const input = { Bucket: this.location.bucket, Key: this.#key(key), ...(range ? { Range: range } : {}) };
    const attempt = async (): Promise<Uint8Array> => {
      let res: GetObjectCommandOutput;
      try {
        res = await this.#client.send(new GetObjectCommand(input), abortable(o.signal));
      } catch (e) {
        if (statusOf(e) === 416) return new Uint8Array(0); // range past the end
        throw e;
      }
      const body = res.Body ? await res.Body.transformToByteArray() : new Uint8Array(0);
      // A connection cut mid-body must never pass for the whole object.
      if (res.ContentLength !== undefined && body.length !== res.ContentLength) {
        throw tornBody(`truncated body (${body.length} of ${res.ContentLength} bytes)`);
      }
      if (!range && this.#verifyMd5 && !res.SSECustomerAlgorithm && !String(res.ServerSideEncryption ?? '').startsWith('aws:kms')) {
        const md5 = MD5_ETAG.exec(res.ETag ?? '')?.[1];
        if (md5 && md5.toLowerCase() !== md5Hex(body)) throw tornBody('body does not match its ETag');
      }
      this.#traffic.report({ bytesReceived: body.length });
      return body;
    };
    try {
      return await this.#send(`GET ${key}`, () => this.#traffic.report({ request: 'get' }), attempt, o.signal);
    } catch (e) {
      if (e instanceof KithError && isMissingKey(e.cause)) return null;
      throw e;
    }
  }

  /**
   * A HEAD answer carries no body, so a missing bucket reads as a missing
   * key here; `list` and `get` tell the two apart.
   */
  async head(key: string, o: RemoteCallOptions = {}): Promise<RemoteObjectInfo | null> {
    assertRemoteKey(key);
    throwIfAborted(o.signal);
    const { HeadObjectCommand } = this.#sdk;
    const input = { Bucket: this.location.bucket, Key: this.#key(key) };
    try {
      const res = await this.#send(
        `HEAD ${key}`,
        () => this.#traffic.report({ request: 'head' }),
        () => this.#client.send(new HeadObjectCommand(input), abortable(o.signal)),
        o.signal,
      );
      return { key, size: res.ContentLength ?? 0, etag: res.ETag ?? '' };
    } catch (e) {
      if (e instanceof KithError && isMissingKey(e.cause)) return null;
      throw e;
    }
  }

  /** ListObjectsV2 from `StartAfter`, 1,000 keys a page, following continuation tokens up to `limit`. */
  async list(prefix: string, o: ListOptions = {}): Promise<RemoteObjectInfo[]> {
    assertRemotePrefix(prefix);
    throwIfAborted(o.signal);
    if (o.limit !== undefined && o.limit <= 0) return [];
    const { ListObjectsV2Command } = this.#sdk;
    const base = this.location.prefix === '' ? '' : `${this.location.prefix}/`;
    const out: RemoteObjectInfo[] = [];
    let token: string | undefined;
    do {
      const want = o.limit === undefined ? 1000 : Math.min(1000, o.limit - out.length);
      const input = {
        Bucket: this.location.bucket,
        Prefix: base + prefix,
        MaxKeys: want,
        ...(token ? { ContinuationToken: token } : o.after !== undefined ? { StartAfter: base + o.after } : {}),
      };
      const res: ListObjectsV2CommandOutput = await this.#send(
        `LIST ${prefix || '/'}`,
        () => this.#traffic.report({ request: 'list' }),
        () => this.#client.send(new ListObjectsV2Command(input), abortable(o.signal)),
        o.signal,
      );
      for (const c of res.Contents ?? []) if (c.Key) out.push({ key: c.Key.slice(base.length), size: c.Size ?? 0, etag: c.ETag ?? '' });
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token && (o.limit === undefined || out.length < o.limit));
    return o.limit === undefined ? out : out.slice(0, o.limit);
  }

  async delete(key: string, o: RemoteCallOptions = {}): Promise<void> {
    assertRemoteKey(key);
    throwIfAborted(o.signal);
    const { DeleteObjectCommand } = this.#sdk;
    const input = { Bucket: this.location.bucket, Key: this.#key(key) };
    try {
      await this.#send(
        `DELETE ${key}`,
        () => this.#traffic.report({ request: 'delete' }),
        () => this.#client.send(new DeleteObjectCommand(input), abortable(o.signal)),
        o.signal,
      );
    } catch (e) {
      if (e instanceof KithError && isMissingKey(e.cause)) return;
      throw e;
    }
  }

  /** Reports every HTTP attempt (retries and multipart parts each count) for `countingRemote`. */
  onTraffic(listener: (t: RemoteTraffic) => void): () => void {
    return this.#traffic.on(listener);
  }

  async close(): Promise<void> {
    this.#client.destroy();
  }
}

const abortable = (signal: AbortSignal | undefined): { abortSignal?: AbortSignal } => (signal ? { abortSignal: signal } : {});

function isMissingKey(e: unknown): boolean {
  const name = (e as { name?: string })?.name;
  return (name === 'NoSuchKey' || name === 'NotFound' || (statusOf(e) === 404 && name !== 'NoSuchBucket')) && !isTransient(e);
}

/**
 * Opens an S3 remote (the SDK is loaded now, not at import). Credentials
 * come from the standard AWS chain: environment variables, then the shared
 * config and credentials files (`AWS_PROFILE`), then container or instance
 * roles; never from the URL.
 *
 * @example
 * const remote = await openS3Remote('s3://my-bucket/kith?endpoint=http://127.0.0.1:9000');
 * await remote.put('heads/a', bytes);
 */
export async function openS3Remote(url: string, options: S3RemoteOptions = {}): Promise<S3Remote> {
  parseS3Url(url); // a bad URL fails before the SDK loads
  return new S3Remote(url, await loadS3Sdk(), options);
}
