/**
 * @module remote-url
 * Opens the remote a URL names: a folder (`file:///abs`, a path), an S3
 * bucket (`s3://bucket/prefix?...`) or a relay (`http(s)://host/vault`),
 * through `@kith/node`'s scheme registry. A relay
 * authenticates with the key the vault lends it (`useDeviceKey`); creating
 * a vault on a relay that gates creation takes the operator's token from
 * `KITH_RELAY_INVITE_TOKEN`.
 */
import { type Remote } from '@kith/core';
import { newRemoteStats, type RemoteDeviceKey, type RemoteStats } from '@kith/core/adapter';
import { parseFolderUrl } from '@kith/folder';
import { openRemote as openUrlRemote } from '@kith/node';

/** A URL as stored in the vault: folder locations become absolute paths; s3:// and http(s):// stay as given. */
export function normalizeRemoteUrl(url: string): string {
  if (/^s3:\/\//i.test(url) || /^https?:\/\//i.test(url)) return url;
  return parseFolderUrl(url);
}

/** Opens the remote for `url` now (see `@kith/node`'s `openRemote`). `create` makes a missing folder (for `kith init`). */
export async function openRemote(url: string, o: { create?: boolean } = {}): Promise<Remote> {
  const inviteToken = process.env['KITH_RELAY_INVITE_TOKEN'];
  return openUrlRemote(url, { ...(o.create ? { create: true } : {}), ...(inviteToken ? { relay: { inviteToken } } : {}) });
}

/**
 * A remote that connects on first use, so commands that stay local
 * (put, get, ls, conflicts) work while the remote is unreachable.
 */
export function lazyRemote(url: string): Remote {
  let opening: Promise<Remote> | undefined;
  let opened: Remote | undefined;
  // The vault lends its key before the first request; it is handed on once the remote exists.
  let key: RemoteDeviceKey | undefined;
  const idle: RemoteStats = newRemoteStats();
  const get = (): Promise<Remote> =>
    (opening ??= openRemote(url).then((r) => {
      if (key) r.useDeviceKey?.(key);
      return (opened = r);
    }));
  const remote: Remote = {
    url,
    get capabilities() {
      return opened?.capabilities ?? { putIfAbsent: false, watch: true };
    },
    get stats() {
      return opened?.stats ?? idle;
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
          if (!stopped) stop = r.watch?.(prefix, onChange);
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
      opened?.useDeviceKey?.(k);
    },
    close: async () => {
      await opened?.close();
    },
  };
  // Only relays read in batches; elsewhere the core's parallel gets are the better plan, and it looks for the method itself.
  if (/^https?:\/\//i.test(url)) {
    remote.getMany = async (keys, o) => {
      const r = await get();
      return r.getMany ? r.getMany(keys, o) : new Map(await Promise.all(keys.map(async (k) => [k, await r.get(k, o)] as const)));
    };
  }
  return remote;
}
