/**
 * @module vault/remote-slot
 * The vault's remote, given as a `Remote` or as an opener called on the
 * first operation that needs it: local reads and writes work while the
 * remote is unreachable, and nothing has to pretend to be a remote (with
 * every optional power forwarded) before it is one.
 */
import { canWatch } from '../ports/capabilities.js';
import { ErrorCode, KithError } from '../base/errors.js';
import type { Remote } from '../ports/remote.js';
import type { RemoteOpener } from './vault-types.js';

/** A remote, or how to open it when first needed. */
export type RemoteSource = Remote | RemoteOpener;

/**
 * Runs `fn` with the source's remote opened now (create, restore and join
 * need it at once); a remote opened here is closed again if `fn` fails.
 */
export async function withOpenedRemote<T>(source: RemoteSource, fn: (remote: Remote) => Promise<T>): Promise<T> {
  if (typeof source !== 'function') return fn(source);
  const remote = await source();
  try {
    return await fn(remote);
  } catch (e) {
    await remote.close().catch(() => undefined);
    throw e;
  }
}

type PendingWatch = { readonly prefix: string; readonly onChange: () => void; stop?: (() => void) | undefined };

/** Holds the vault's remote: opened once on first need, its watches started when it opens. */
export class RemoteSlot {
  readonly #source: RemoteSource;
  #remote: Remote | undefined;
  #opening: Promise<Remote> | undefined;
  #closed = false;
  readonly #onOpen: (remote: Remote) => void;
  /** Watches asked for before the remote was open: started when it opens. */
  readonly #pending = new Set<PendingWatch>();

  /** `onOpen` runs once the remote exists, before anyone uses it (to lend it the device key). */
  constructor(source: RemoteSource, onOpen: (remote: Remote) => void) {
    this.#source = source;
    this.#onOpen = onOpen;
    if (typeof source !== 'function') this.#opened(source);
  }

  /** The remote if it is open. */
  get current(): Remote | undefined {
    return this.#remote;
  }

  /** The remote, opened now if it is not yet; concurrent callers share one open, and a failed one is not kept. */
  async open(): Promise<Remote> {
    if (this.#remote) return this.#remote;
    if (this.#closed) throw new KithError(ErrorCode.BadInput, 'this vault is closed');
    const source = this.#source as RemoteOpener;
    this.#opening ??= source().then(
      (remote) => this.#opened(remote),
      (error: unknown) => {
        this.#opening = undefined;
        throw error;
      },
    );
    return this.#opening;
  }

  /** Watches `prefix` where the remote can: now if it is open, else once something opens it. Returns a stop function. */
  watch(prefix: string, onChange: () => void): () => void {
    if (this.#remote) return canWatch(this.#remote) ? this.#remote.watch(prefix, onChange) : () => undefined;
    const w: PendingWatch = { prefix, onChange };
    this.#pending.add(w);
    return () => {
      this.#pending.delete(w);
      w.stop?.();
    };
  }

  /** Closes the remote if it was opened (waiting for an open under way); later opens fail. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#opening?.catch(() => undefined);
    await this.#remote?.close();
  }

  #opened(remote: Remote): Remote {
    this.#onOpen(remote);
    this.#remote = remote;
    for (const w of this.#pending) w.stop = canWatch(remote) ? remote.watch(w.prefix, w.onChange) : undefined;
    return remote;
  }
}
