/**
 * @module s3-url
 * `s3://BUCKET/PREFIX?endpoint=URL&region=R&pathStyle=true&conditionalWrites=true`
 * (every query option is optional). Credentials never go in the URL: they
 * come from the standard AWS chain.
 */
import { ErrorCode, KithError } from '@kith/core/adapter';

/** What an `s3://` URL names. */
export interface S3Location {
  readonly bucket: string;
  /** Key prefix without leading or trailing slash ('' for the bucket root). */
  readonly prefix: string;
  readonly endpoint?: string;
  readonly region?: string;
  /** Path-style addressing (default: true when an endpoint is given). */
  readonly forcePathStyle: boolean;
  /** `conditionalWrites=true|false`: whether the server honours `If-None-Match: *` (absent: unknown). */
  readonly conditionalWrites?: boolean;
}

const SECRET_PARAMS = /^(access[-_]?key.*|secret.*|session[-_]?token|token|password|credentials?|aws_.*)$/i;
const KNOWN_PARAMS = new Set(['endpoint', 'region', 'pathStyle', 'forcePathStyle', 'conditionalWrites']);

/** The URL with anything that may be a secret (user info, credential-like query values) masked, for messages. */
function redact(url: string): string {
  return url
    .replace(/\/\/[^/?#]*@/g, '//***@')
    .replace(/([?&])([^=&]*)=([^&]*)/g, (all, sep: string, key: string) => (SECRET_PARAMS.test(decodeURIComponentSafe(key)) ? `${sep}${key}=***` : all));
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Parses and checks an S3 remote URL; throws KITH_BAD_REMOTE_URL (with a
 * hint) for anything malformed, and for credentials in any part of it.
 *
 * @example
 * parseS3Url('s3://my-bucket/kith?endpoint=http://127.0.0.1:9000')
 * // → { bucket: 'my-bucket', prefix: 'kith', endpoint: 'http://127.0.0.1:9000', forcePathStyle: true }
 */
export function parseS3Url(url: string): S3Location {
  const bad = (why: string, hint?: string) =>
    new KithError(ErrorCode.BadRemoteUrl, `invalid S3 URL ${JSON.stringify(redact(url))}: ${why}`, hint ? { hint } : {});
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw bad('not a URL', 'use s3://bucket/prefix?endpoint=https://host&region=us-east-1');
  }
  if (u.protocol !== 's3:') throw bad('the scheme must be s3://');
  if (u.username || u.password) {
    throw bad('credentials do not belong in the URL', 'set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE (the standard AWS credential chain)');
  }
  for (const key of u.searchParams.keys()) {
    if (SECRET_PARAMS.test(key)) throw bad(`"${key}" looks like a credential`, 'credentials come from the AWS environment or profile, never from the URL');
    if (!KNOWN_PARAMS.has(key)) throw bad(`unknown option "${key}"`, 'known options: endpoint, region, pathStyle, conditionalWrites');
  }
  const flag = (name: string): boolean | undefined => {
    const v = u.searchParams.get(name);
    if (v === null) return undefined;
    if (v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
    throw bad(`${name} must be true or false`);
  };
  const bucket = u.hostname;
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw bad('the bucket name must be 3–63 lowercase letters, digits, dots or dashes');
  let prefix: string;
  try {
    prefix = decodeURIComponent(u.pathname).replace(/^\/+|\/+$/g, '');
  } catch {
    throw bad('the prefix is not valid percent-encoding');
  }
  if (prefix !== '' && !prefix.split('/').every((s) => /^[A-Za-z0-9._-]+$/.test(s) && s !== '.' && s !== '..')) {
    throw bad('the prefix may hold only letters, digits, ".", "_" and "-" separated by "/"');
  }
  const endpoint = u.searchParams.get('endpoint') ?? undefined;
  if (endpoint !== undefined) {
    let e: URL;
    try {
      e = new URL(endpoint);
    } catch {
      throw bad('endpoint is not a URL');
    }
    if (e.protocol !== 'http:' && e.protocol !== 'https:') throw bad('endpoint must be http:// or https://');
    if (e.username || e.password) throw bad('credentials do not belong in the endpoint URL');
  }
  const region = u.searchParams.get('region') ?? undefined;
  const style = flag('pathStyle') ?? flag('forcePathStyle');
  const conditional = flag('conditionalWrites');
  return {
    bucket,
    prefix,
    ...(endpoint !== undefined ? { endpoint } : {}),
    ...(region !== undefined ? { region } : {}),
    forcePathStyle: style ?? endpoint !== undefined,
    ...(conditional !== undefined ? { conditionalWrites: conditional } : {}),
  };
}
