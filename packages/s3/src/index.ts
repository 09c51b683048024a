/**
 * @module @kith/s3
 * A Kith remote on any S3 API.
 */
export { openS3Remote, S3Remote, type S3RemoteOptions } from './s3-remote.js';
export { parseS3Url, type S3Location } from './s3-url.js';
export { DEFAULT_RETRY, type RetryPolicy } from './retry.js';
