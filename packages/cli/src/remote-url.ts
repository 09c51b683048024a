/**
 * @module remote-url
 * Opens the remote a URL names: a folder (`file:///abs`, a path), an S3
 * bucket (`s3://bucket/prefix?...`) or a relay (`http(s)://host/vault`),
 * through `@kith/node`'s scheme registry. The vault opens it on first use
 * (local commands never connect). A relay authenticates with the key the
 * vault lends it; creating
 * a vault on a relay that gates creation takes the operator's token from
 * `KITH_RELAY_INVITE_TOKEN`.
 */
import { type Remote } from '@kith/core';
import { parseFolderUrl } from '@kith/folder';
import { openRemote as openUrlRemote, type OpenRemoteOptions } from '@kith/node';

/** A URL as stored in the vault: folder locations become absolute paths; s3:// and http(s):// stay as given. */
export function normalizeRemoteUrl(url: string): string {
  if (/^s3:\/\//i.test(url) || /^https?:\/\//i.test(url)) return url;
  return parseFolderUrl(url);
}

/** What every remote the CLI opens is given: the relay operator's token for creating a vault (or a space) where the relay gates creation. */
export function remoteOptions(): OpenRemoteOptions {
  const inviteToken = process.env['KITH_RELAY_INVITE_TOKEN'];
  return inviteToken ? { relay: { inviteToken } } : {};
}

/** Opens the remote for `url` now (see `@kith/node`'s `openRemote`). `create` makes a missing folder (for `kith init`). */
export async function openRemote(url: string, o: { create?: boolean } = {}): Promise<Remote> {
  return openUrlRemote(url, { ...(o.create ? { create: true } : {}), ...remoteOptions() });
}
