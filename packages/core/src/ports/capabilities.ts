/**
 * @module ports/capabilities
 * Powers some remotes have beyond the {@link Remote} verbs (today: the
 * relay's), each a named interface with a type guard. The core asks the
 * guard and falls back to the plain verbs; decorators built with
 * {@link decorateRemote} pass every power of the remote they wrap on
 * without naming them.
 */
import type { GetOptions, Remote, RemoteCallOptions, RemoteCapabilities, RemoteDeviceKey } from './remote.js';

/** A remote that reads several whole objects in one round trip. */
export interface BatchGetRemote extends Remote {
  /** A map with an entry (null when missing) for every key asked. */
  getMany(keys: readonly string[], options?: RemoteCallOptions): Promise<Map<string, Uint8Array | null>>;
}

/** A remote that tells of changes as they happen (real-time push). */
export interface WatchableRemote extends Remote {
  /**
   * Calls `onChange` (at least once, possibly more) after objects under
   * `prefix` change; returns a function that stops watching.
   */
  watch(prefix: string, onChange: () => void): () => void;
}

/**
 * A remote that authenticates devices (the relay). The vault lends it a
 * key as soon as it holds one the registry admits: the recovery or
 * password key while it founds or restores a vault, then its own device
 * key (again on every open). Requests made before go out unauthenticated.
 */
export interface DeviceKeyRemote extends Remote {
  useDeviceKey(key: RemoteDeviceKey): void;
}

/** {@link GetOptions} of a remote that can answer from its last listing. */
export interface ListedGetOptions extends GetOptions {
  /**
   * The etag a listing just gave for this key: the caller wants that
   * version or a newer one, so a remote whose listings carry small objects'
   * bytes may answer from those without a round trip.
   */
  readonly listed?: string;
}

/** A remote whose `get` honours {@link ListedGetOptions.listed}; it says so in `capabilities.listedReads`. */
export interface ListedReadRemote extends Remote {
  readonly capabilities: RemoteCapabilities & { readonly listedReads: true };
  get(key: string, options?: ListedGetOptions): Promise<Uint8Array | null>;
}

export const canGetMany = (remote: Remote): remote is BatchGetRemote => typeof (remote as Partial<BatchGetRemote>).getMany === 'function';
export const canWatch = (remote: Remote): remote is WatchableRemote => typeof (remote as Partial<WatchableRemote>).watch === 'function';
export const usesDeviceKey = (remote: Remote): remote is DeviceKeyRemote => typeof (remote as Partial<DeviceKeyRemote>).useDeviceKey === 'function';
export const readsListed = (remote: Remote): remote is ListedReadRemote => remote.capabilities.listedReads === true;

/** Lends `key` to `remote` if it authenticates devices; a no-op elsewhere. */
export function lendDeviceKey(remote: Remote, key: RemoteDeviceKey): void {
  if (usesDeviceKey(remote)) remote.useDeviceKey(key);
}

/** Reads `key` in the version a listing just named (`etag`) or newer, from that listing where the remote can. */
export function getListed(remote: Remote, key: string, etag: string, signal?: AbortSignal): Promise<Uint8Array | null> {
  const o = signal ? { signal } : {};
  return readsListed(remote) ? remote.get(key, { ...o, listed: etag }) : remote.get(key, o);
}

/**
 * A remote that behaves as `inner` except for the members `overrides`
 * gives. Everything else, capabilities and adapter extras included, is
 * `inner`'s (methods bound to it), so a decorator never has to know which
 * powers the remote it wraps has. Members assigned to the result later
 * (a test replacing `get`) override too.
 */
export function decorateRemote<R extends Remote>(inner: R, overrides: Partial<R>): R {
  for (const k of Object.keys(overrides)) if ((overrides as Record<string, unknown>)[k] === undefined) delete (overrides as Record<string, unknown>)[k];
  return new Proxy(overrides, {
    get(target, prop) {
      if (Reflect.has(target, prop)) return Reflect.get(target, prop);
      const v: unknown = Reflect.get(inner, prop, inner);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(inner) : v;
    },
    has: (target, prop) => Reflect.has(target, prop) || Reflect.has(inner, prop),
    // `instanceof` still names the adapter's class.
    getPrototypeOf: () => Reflect.getPrototypeOf(inner),
  }) as unknown as R;
}
