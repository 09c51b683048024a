/**
 * @module space-remotes
 * Where a shared space lives next to a vault, by the vault remote's URL
 * (the contract of `SpaceRemotes` in @kith/core): for a folder or S3, the
 * vault's URL with `/spaces/<spaceId>` appended (a prefix opened as a
 * remote of its own); for a relay (`http(s)://host[/base]/<vault>`), the
 * same relay with the last path segment replaced by the spaceId.
 */
import { ErrorCode, KithError, type SpaceRemotes } from '@kith/core';
import { openRemote, type OpenRemoteOptions } from './open-remote.js';

const RELAY_RE = /^https?:\/\//i;
const SPACE_ID_RE = /^[0-9a-f]{32}$/;

/** The URL of space `spaceId` next to the vault at `vaultRemoteUrl`. */
export function spaceRemoteUrl(vaultRemoteUrl: string, spaceId: string): string {
  if (!SPACE_ID_RE.test(spaceId)) throw new KithError(ErrorCode.BadInput, `invalid space id ${JSON.stringify(spaceId)}`);
  const q = vaultRemoteUrl.search(/[?#]/);
  const [base, rest] = q === -1 ? [vaultRemoteUrl, ''] : [vaultRemoteUrl.slice(0, q), vaultRemoteUrl.slice(q)];
  const trimmed = base.replace(/\/+$/, '');
  if (RELAY_RE.test(trimmed)) {
    const url = new URL(trimmed);
    const segments = url.pathname.split('/').filter((s) => s !== '');
    if (segments.length === 0)
      throw new KithError(ErrorCode.BadRemoteUrl, `the relay URL ${vaultRemoteUrl} names no vault`, { hint: 'use http(s)://relay/vault' });
    segments[segments.length - 1] = spaceId;
    url.pathname = `/${segments.join('/')}`;
    return url.toString().replace(/\/$/, '') + rest;
  }
  return `${trimmed}/spaces/${spaceId}${rest}`;
}

/**
 * Space remotes for Node apps and the CLI: URLs as {@link spaceRemoteUrl}
 * makes them, opened with `openRemote` (a folder space is created when
 * missing).
 */
export function nodeSpaceRemotes(o: OpenRemoteOptions = {}): SpaceRemotes {
  return {
    urlFor: spaceRemoteUrl,
    open: (url) => openRemote(url, { create: !RELAY_RE.test(url) && !/^s3:\/\//i.test(url), ...o }),
  };
}
