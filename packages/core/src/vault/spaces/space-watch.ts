/**
 * @module vault/spaces/space-watch
 * What auto-sync watches of the shared spaces this device keeps: each
 * space's remote (where it can push: a relay) for new heads, membership,
 * certificates and epochs, and each space's local writes. Reconciled with
 * the directory after every auto-sync round and whenever this device turns
 * a space's sync on or off, so a space joined since starts being watched,
 * and one turned off, left or removed from stops, without a restart.
 * Spaces whose remote cannot push are polled by the rounds themselves.
 */
import { canWatch } from '../../ports/capabilities.js';
import type { SpaceEntry } from './directory.js';
import type { LocalSpace } from './local-space.js';

/**
 * Spaces watched through their remote's push at most: on a relay each is
 * one socket (the relay watches one vault per socket). Spaces past it
 * (by id order) are still synced by every round, at the interval.
 */
export const MAX_PUSHED_SPACES = 32;

/** Remote prefixes of a space whose changes a sync acts on: heads (new data), membership, certificates, epochs. */
const WATCHED_PREFIXES = ['heads/', 'members/', 'people/', 'epochs/'] as const;

/** What a space watch is told. */
export interface SpaceWatchEvents {
  /** A watched space's remote changed: sync now. */
  readonly onRemote: () => void;
  /** A kept space was written to locally: sync soon. */
  readonly onLocal: () => void;
}

/** What a space watch reads: the spaces this device keeps now, and each opened locally. */
export interface SpaceWatchSource {
  kept(): Promise<SpaceEntry[]>;
  open(entry: SpaceEntry): Promise<LocalSpace>;
}

export interface SpaceWatcher {
  /** Watches exactly the spaces kept now (one update at a time; a failure leaves a space to the next update). */
  update(): Promise<void>;
  stop(): void;
}

export class SpaceWatch implements SpaceWatcher {
  readonly #source: SpaceWatchSource;
  readonly #on: SpaceWatchEvents;
  /** spaceId → how to stop watching it. */
  readonly #watched = new Map<string, () => void>();
  #pushed = 0;
  #last: Promise<void> = Promise.resolve();
  #stopped = false;

  readonly #onStop: () => void;

  constructor(source: SpaceWatchSource, on: SpaceWatchEvents, onStop: () => void = () => undefined) {
    this.#source = source;
    this.#on = on;
    this.#onStop = onStop;
  }

  /** Asks for a round soon (a space's sync was turned on). */
  poke(): void {
    if (!this.#stopped) this.#on.onLocal();
  }

  /** The spaceIds watched now (for tests). */
  get watched(): string[] {
    return [...this.#watched.keys()].sort();
  }

  update(): Promise<void> {
    const run = this.#last.catch(() => undefined).then(() => this.#update());
    this.#last = run;
    return run;
  }

  async #update(): Promise<void> {
    if (this.#stopped) return;
    const kept = (await this.#source.kept()).sort((x, y) => (x.spaceId < y.spaceId ? -1 : 1));
    const ids = new Set(kept.map((e) => e.spaceId));
    for (const [id, stop] of this.#watched) {
      if (!ids.has(id)) {
        stop();
        this.#watched.delete(id);
      }
    }
    for (const entry of kept) {
      if (this.#watched.has(entry.spaceId)) continue;
      try {
        const local = await this.#source.open(entry);
        if (this.#stopped) return;
        this.#watched.set(entry.spaceId, await this.#watch(local));
      } catch {
        // Not opened now (its store, its remote, the identity): the next update tries again; the rounds still sync it.
      }
    }
  }

  async #watch(local: LocalSpace): Promise<() => void> {
    const offLocal = local.events.on('change', (e) => e.source === 'local' && this.#on.onLocal());
    // A write made before the listener (after the round before this update pushed) told no one: a round soon pushes it, not the interval's.
    const pending = await local.store.read((tx) => tx.countOutbox()).catch(() => 0);
    if (pending > 0 && !this.#stopped) this.#on.onLocal();
    let offRemote = (): void => undefined;
    if (canWatch(local.remote) && this.#pushed < MAX_PUSHED_SPACES) {
      // Signed in first: a relay's push socket opens with the key lent to the remote.
      await local.ready().catch((e: unknown) => {
        offLocal();
        throw e;
      });
      const remote = local.remote;
      const stops = WATCHED_PREFIXES.map((p) => remote.watch(p, this.#on.onRemote));
      this.#pushed++;
      offRemote = () => {
        this.#pushed--;
        for (const s of stops) s();
      };
    }
    return () => {
      offLocal();
      offRemote();
    };
  }

  stop(): void {
    this.#stopped = true;
    this.#onStop();
    for (const stop of this.#watched.values()) stop();
    this.#watched.clear();
  }
}
