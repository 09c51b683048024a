/**
 * @module open-remote
 * Opens the remote a URL names, by its scheme: a folder (`file:///abs` or
 * a plain path), an S3 bucket (`s3://bucket/prefix?...`) or a relay
 * (`http(s)://host/vault`), or a scheme an app registers. The S3 and relay
 * clients load only when such a URL is opened, so a folder-only app never
 * pays for the AWS SDK.
 */
import { ErrorCode, KithError, type Remote } from '@kith/core';
import type { RelayRemoteOptions, WebSocketFactory } from '@kith/relay';
import type { S3RemoteOptions } from '@kith/s3';

/** What {@link openRemote} passes on to the remote it opens. */
export interface OpenRemoteOptions {
  /** Folder remotes: make the folder (and its parents) when missing, for a new vault. */
  readonly create?: boolean;
  /** S3 remotes: options of `openS3Remote` (client config, retry, timeouts). */
  readonly s3?: S3RemoteOptions;
  /** Relay remotes: options of `openRelayRemote` (invite token, retry, WebSocket). */
  readonly relay?: RelayRemoteOptions;
}

/** Opens a remote for a URL of the scheme it was registered for. */
export type RemoteOpener = (url: string, options: OpenRemoteOptions) => Promise<Remote>;

interface Scheme {
  readonly open: RemoteOpener;
  /** How the scheme's URLs look, for the hint of a refused URL. */
  readonly example: string;
}

const SCHEME_RE = /^[a-z][a-z0-9+.-]*$/;
// A URL names its scheme only with `scheme://`; anything else (`/mnt/nas`, `C:\kith`, `./dir`) is a folder path.
const URL_SCHEME_RE = /^([a-z][a-z0-9+.-]*):\/\//i;

const openFolder: RemoteOpener = async (url, o) => {
  const { openFolderRemote } = await import('@kith/folder');
  return openFolderRemote(url, o.create ? { create: true } : {});
};

const openS3: RemoteOpener = async (url, o) => {
  const s3 = (await import('@kith/s3').catch(() => undefined)) as { openS3Remote?: (u: string, o?: S3RemoteOptions) => Promise<Remote> } | undefined;
  if (!s3?.openS3Remote) throw new KithError(ErrorCode.BadRemoteUrl, 'S3 remotes are not available in this build of kith');
  return s3.openS3Remote(url, o.s3);
};

const openRelay: RemoteOpener = async (url, o) => {
  const { openRelayRemote } = await import('@kith/relay');
  const webSocket = o.relay?.webSocket ?? (await nodeWebSocket());
  return openRelayRemote(url, { ...o.relay, ...(webSocket ? { webSocket } : {}) });
};

/**
 * Node before 22 has no global WebSocket: push then needs the `ws`
 * package, a dependency of this package (the relay client only has it as
 * an optional peer, since browsers have their own).
 */
async function nodeWebSocket(): Promise<WebSocketFactory | undefined> {
  if ((globalThis as { WebSocket?: unknown }).WebSocket) return undefined;
  const { WebSocket } = await import('ws');
  return (url, protocols) => new WebSocket(url, protocols) as unknown as ReturnType<WebSocketFactory>;
}

const schemes = new Map<string, Scheme>([
  ['file', { open: openFolder, example: 'file:///path' }],
  ['s3', { open: openS3, example: 's3://bucket/prefix' }],
  ['http', { open: openRelay, example: 'http(s)://relay/vault' }],
  ['https', { open: openRelay, example: 'http(s)://relay/vault' }],
]);

/**
 * Makes {@link openRemote} open `scheme://...` URLs with `opener` (a
 * built-in scheme is replaced). Throws KITH_BAD_INPUT for a scheme that is
 * not a URL scheme (letters, digits, `+`, `-`, `.`, a letter first).
 *
 * @example
 * registerRemoteScheme('memory', async () => new MemoryRemote());
 * const remote = await openRemote('memory://test');
 */
export function registerRemoteScheme(scheme: string, opener: RemoteOpener, o: { readonly example?: string } = {}): void {
  const name = scheme.toLowerCase().replace(/:$/, '');
  if (!SCHEME_RE.test(name))
    throw new KithError(ErrorCode.BadInput, `${JSON.stringify(scheme)} is not a URL scheme`, {
      hint: 'use letters, digits, "+", "-" and ".", starting with a letter',
    });
  schemes.set(name, { open: opener, example: o.example ?? `${name}://…` });
}

/** The schemes {@link openRemote} knows, built-in and registered (lower case, without `:`). */
export function remoteSchemes(): string[] {
  return [...schemes.keys()];
}

/**
 * Opens the remote `url` names: a plain path or `file://` a folder,
 * `s3://` an S3 bucket, `http(s)://` a relay, or a registered scheme.
 * An unknown scheme is KITH_BAD_REMOTE_URL, with the known ones in the hint.
 *
 * @example
 * const remote = await openRemote('/mnt/nas/kith', { create: true });
 * const relay = await openRemote('https://relay.example.com/family');
 */
export async function openRemote(url: string, options: OpenRemoteOptions = {}): Promise<Remote> {
  const scheme = URL_SCHEME_RE.exec(url)?.[1]?.toLowerCase();
  const found = scheme === undefined ? schemes.get('file') : schemes.get(scheme);
  if (!found) throw new KithError(ErrorCode.BadRemoteUrl, `unsupported remote URL ${url}`, { hint: unknownSchemeHint() });
  return found.open(url, options);
}

/** "use a folder path, file:///path, s3://bucket/prefix or http(s)://relay/vault" (plus registered schemes). */
function unknownSchemeHint(): string {
  const examples = ['a folder path', ...new Set([...schemes.values()].map((s) => s.example))];
  return `use ${examples.slice(0, -1).join(', ')} or ${examples.at(-1)!}`;
}
