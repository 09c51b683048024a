/**
 * @module client/relay-url
 * Relay remote URLs: `http(s)://host[:port][/base]/<vault>`. The last path
 * segment names the vault on the relay (like a bucket prefix on S3); what
 * comes before it is where the relay is mounted.
 */
import { ErrorCode, KithError } from '@kith/core/adapter';
import { assertVaultName } from '../protocol.js';
import { assertFetchablePort } from './bad-ports.js';

/** A parsed relay URL. */
export interface RelayLocation {
  /** `http(s)://host:port[/base]`, no trailing slash. */
  readonly base: string;
  /** The vault's name on the relay. */
  readonly vault: string;
  /** The URL for display: no user info, no query. */
  readonly display: string;
}

/**
 * Parses a relay URL; throws KITH_BAD_REMOTE_URL when it is not one.
 *
 * @example
 * parseRelayUrl('http://127.0.0.1:8787/family') // { base: 'http://127.0.0.1:8787', vault: 'family', ... }
 */
export function parseRelayUrl(url: string): RelayLocation {
  const bad = (why: string): KithError =>
    new KithError(ErrorCode.BadRemoteUrl, `not a relay URL (${why})`, { hint: 'write it as http(s)://host:port/<vault-name>' });
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw bad('unparsable');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw bad(`scheme ${u.protocol}`);
  if (u.username || u.password) throw bad('credentials belong in options, not in the URL');
  if (u.port !== '') assertFetchablePort(Number(u.port), ErrorCode.BadRemoteUrl, 'a relay');
  const parts = u.pathname.split('/').filter((p) => p !== '');
  const vault = parts.pop();
  if (vault === undefined) throw bad('no vault name in the path');
  try {
    assertVaultName(vault);
  } catch (e) {
    throw bad((e as Error).message);
  }
  const base = `${u.protocol}//${u.host}${parts.map((p) => `/${p}`).join('')}`;
  return { base, vault, display: `${base}/${vault}` };
}
