/**
 * @module remote-url
 * Opens the remote a URL names: a folder (`file:///abs`, a path), an S3
 * bucket (`s3://bucket/prefix?...`) or a relay (`http(s)://host/vault`);
 * the S3 and relay clients load only when such a URL is used. A relay
 * authenticates with the key the vault lends it (`useDeviceKey`); creating
 * a vault on a relay that gates creation takes the operator's token from
 * `KITH_RELAY_INVITE_TOKEN`.
 */
import { canGetMany, canWatch, ErrorCode, KithError, lendDeviceKey, type BatchGetRemote, type DeviceKeyRemote, type Remote, type RemoteDeviceKey, type WatchableRemote } from '@kith/core';
import { openFolderRemote, parseFolderUrl } from '@kith/folder';

/** A URL as stored in the vault: folder locations become absolute paths; s3:// and http(s):// stay as given. */
export function normalizeRemoteUrl(url: string): string {
  if (/^s3:\/\//i.test(url) || /^https?:\/\//i.test(url)) return url;
  return parseFolderUrl(url);
}

/** Opens the remote for `url` now. `create` makes a missing folder (for `kith init`). */
export async function openRemote(url: string, o: { create?: boolean } = {}): Promise<Remote> {
  if (/^s3:\/\//i.test(url)) {
    const s3 = (await import('@kith/s3').catch(() => undefined)) as { openS3Remote?: (u: string) => Promise<Remote> } | undefined;
    if (!s3?.openS3Remote) throw new KithError(ErrorCode.BadRemoteUrl, 'S3 remotes are not available in this build of kith');
    return s3.openS3Remote(url);
  }
  if (/^https?:\/\//i.test(url)) {
    const { openRelayRemote } = await import('@kith/relay');
    const inviteToken = process.env['KITH_RELAY_INVITE_TOKEN'];
    return openRelayRemote(url, inviteToken ? { inviteToken } : {});
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && !/^file:\/\//i.test(url)) {
    throw new KithError(ErrorCode.BadRemoteUrl, `unsupported remote URL ${url}`, { hint: 'use a folder path, file:///path, s3://bucket/prefix or http(s)://relay/vault' });
  }
  return openFolderRemote(url, o.create ? { create: true } : {});
}

/**
 * A remote that connects on first use, so commands that stay local
 * (put, get, ls, conflicts) work while the remote is unreachable. Its
 * powers are guessed before the remote exists: it may watch and take a
 * device key (passed on once open, where the remote has them), and reads
 * in batches for relay URLs.
 */
export function lazyRemote(url: string): WatchableRemote & DeviceKeyRemote & Partial<BatchGetRemote> {
  let opening: Promise<Remote> | undefined;
  let opened: Remote | undefined;
  // The vault lends its key before the first request; it is handed on once the remote exists.
  let key: RemoteDeviceKey | undefined;
  const get = (): Promise<Remote> =>
    (opening ??= openRemote(url).then((r) => {
      if (key) lendDeviceKey(r, key);
      return (opened = r);
    }));
  const remote: WatchableRemote & DeviceKeyRemote & Partial<BatchGetRemote> = {
    url,
    get capabilities() {
      return opened?.capabilities ?? { putIfAbsent: false, watch: true };
    },
    put: async (k, b, o) => (await get()).put(k, b, o),
    get: async (k, o) => (await get()).get(k, o),
    head: async (k, o) => (await get()).head(k, o),
    list: async (p, o) => (await get()).list(p, o),
    delete: async (k, o) => (await get()).delete(k, o),
    watch: (prefix, onChange) => {
      let stop: (() => void) | undefined;
      let stopped = false;
      get().then(
        (r) => {
          if (!stopped && canWatch(r)) stop = r.watch(prefix, onChange);
        },
        () => undefined,
      );
      return () => {
        stopped = true;
        stop?.();
      };
    },
    useDeviceKey: (k) => {
      key = k;
      if (opened) lendDeviceKey(opened, k);
    },
    close: async () => {
      await opened?.close();
    },
  };
  // Only relays read in batches; elsewhere the core's parallel gets are the better plan, and it looks for the method itself.
  if (/^https?:\/\//i.test(url)) {
    remote.getMany = async (keys, o) => {
      const r = await get();
      return canGetMany(r) ? r.getMany(keys, o) : new Map(await Promise.all(keys.map(async (k) => [k, await r.get(k, o)] as const)));
    };
  }
  return remote;
}
