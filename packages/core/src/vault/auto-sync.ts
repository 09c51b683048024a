/**
 * @module vault/auto-sync
 * The auto-sync scheduler: a sync now, then every interval, soon after
 * local writes, and at once when the remote reports a change (the
 * personal space's and every kept shared space's); failures are reported
 * and retried with backoff.
 */
import { remoteKeys } from '../format/index.js';
import type { VaultEmitter } from './events.js';
import type { SpaceWatchEvents, SpaceWatcher } from './spaces/space-watch.js';

/** What auto-sync drives. */
export interface AutoSyncHost {
  sync(o: { signal: AbortSignal }): Promise<unknown>;
  readonly events: VaultEmitter;
  /** Watches remote keys under `prefix` where the remote can; returns a stop function. */
  watch(prefix: string, onChange: () => void): () => void;
  /** Watches the shared spaces this device keeps (their remotes' changes, their local writes); followed after each round. */
  watchSpaces?(on: SpaceWatchEvents): SpaceWatcher;
}

export interface AutoSync {
  stop(): Promise<void>;
}

/** Backoff after failures ends here. */
const MAX_BACKOFF_MS = 60_000;
/** A local write waits this long so that a burst of them goes in one push. */
const LOCAL_WRITE_DELAY_MS = 50;

/** The auto-syncs of one vault, stopped together when it closes. */
export class AutoSyncs {
  readonly #host: AutoSyncHost;
  readonly #running = new Set<AutoSync>();

  constructor(host: AutoSyncHost) {
    this.#host = host;
  }

  start(o: { intervalMs: number; signal?: AbortSignal }): AutoSync {
    const loop = runAutoSync(this.#host, o);
    const handle = {
      stop: async () => {
        await loop.stop();
        this.#running.delete(handle);
      },
    };
    this.#running.add(handle);
    return handle;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#running].map((s) => s.stop()));
  }
}

function runAutoSync(host: AutoSyncHost, o: { intervalMs: number; signal?: AbortSignal }): AutoSync {
  const abort = new AbortController();
  o.signal?.addEventListener('abort', () => abort.abort(), { once: true });
  let wake: ((afterMs: number) => void) | undefined;
  // A poke that lands while a round runs is kept for after it (that round may have missed the change).
  let missed: number | undefined;
  const poke = (afterMs: number): void => {
    if (wake) wake(afterMs);
    else missed = Math.min(missed ?? afterMs, afterMs);
  };
  // A push notice from the remote is acted on at once.
  const offLocal = host.events.on('change', (e) => e.source === 'local' && poke(LOCAL_WRITE_DELAY_MS));
  const offWatch = host.watch(remoteKeys.headsPrefix, () => poke(0));
  const spaces = host.watchSpaces?.({ onRemote: () => poke(0), onLocal: () => poke(LOCAL_WRITE_DELAY_MS) });
  let failures = 0;
  const loop = (async () => {
    while (!abort.signal.aborted) {
      missed = undefined;
      try {
        await host.sync({ signal: abort.signal });
        failures = 0;
      } catch (error) {
        if (abort.signal.aborted) break;
        failures++;
        host.events.emit('error', { error: error as Error });
      }
      if (abort.signal.aborted) break; // stopped during the round: no wait (its abort event has fired already)
      // After the round (which synced the directory): spaces joined since are watched, those turned off, left or removed from are not.
      await spaces?.update().catch(() => undefined);
      const delay = failures === 0 ? (missed ?? o.intervalMs) : Math.min(o.intervalMs * 2 ** failures, MAX_BACKOFF_MS);
      await new Promise<void>((resolve) => {
        // One abort listener per wait, removed when the wait ends (no listener pile-up over rounds).
        const done = (): void => {
          clearTimeout(timer);
          abort.signal.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, delay);
        wake = (afterMs) => {
          clearTimeout(timer);
          setTimeout(done, afterMs);
        };
        abort.signal.addEventListener('abort', done, { once: true });
      });
      wake = undefined;
    }
  })();
  return {
    stop: async () => {
      abort.abort();
      offLocal();
      offWatch();
      spaces?.stop();
      await loop;
    },
  };
}
