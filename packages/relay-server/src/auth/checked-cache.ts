/**
 * @module server/auth/checked-cache
 * What the registry cache and the space cache share: per vault, a value
 * replayed from storage and kept (least recently used dropped first);
 * before each use, one look at storage for what follows it, shared by
 * every check of one turn of the event loop, or none while the change bus
 * vouches that nothing moved (see {@link RegistryTrust}).
 */

/**
 * When a cached value may be used without asking storage. `continuity`
 * is the change bus's: it stays the same while the bus has carried every
 * notice since it was read, and is undefined while the bus is down.
 */
export interface RegistryTrust {
  readonly ms: number;
  readonly continuity: () => number | undefined;
  readonly now?: () => number;
}

/** One vault's cached value and how far it was checked. */
export interface CacheEntry<T> {
  value: T;
  /** Bumped by every notice: a look that overlapped one proves nothing. */
  generation: number;
  /** When storage last showed nothing past `value`, under which bus continuity. */
  checked?: { at: number; continuity: number };
  /** Catch-ups and appends of this vault, one at a time. */
  queue: Promise<unknown>;
  /** The look at storage that checks of this turn share. */
  look?: Promise<void>;
}

/** Cached values per vault, checked against storage before use. */
export abstract class CheckedCache<T, E extends CacheEntry<T> = CacheEntry<T>> {
  readonly #entries = new Map<string, E>();
  readonly #loading = new Map<string, Promise<E | null>>();
  readonly #max: number;
  readonly #trust: RegistryTrust | undefined;

  constructor(max: number, trust?: RegistryTrust) {
    this.#max = max;
    this.#trust = trust !== undefined && trust.ms > 0 ? trust : undefined;
  }

  /** Replays `vault` from storage; null when it is none of this cache's (not cached: it may become one any moment). */
  protected abstract load(vault: string): Promise<E | null>;

  /** Looks at storage for what follows `e` and catches up; true when it found nothing new. */
  protected abstract look(vault: string, e: E): Promise<boolean>;

  /** True when `vault` is cached (a change elsewhere is worth a look only then). */
  has(vault: string): boolean {
    return this.#entries.has(vault);
  }

  /** The vault's value as storage holds it now; null when there is none. */
  async current(vault: string): Promise<T | null> {
    const e = await this.entry(vault);
    if (!e) return null;
    if (this.#trusted(e)) return e.value;
    await (e.look ??= this.#look(vault, e));
    return e.value;
  }

  /** Another process may have moved `vault`: the next check asks storage. */
  distrust(vault: string): void {
    const e = this.#entries.get(vault);
    if (e) {
      e.generation++;
      delete e.checked;
    }
  }

  /** Notices may have been lost (the bus was down): every vault's next check asks storage. */
  distrustAll(): void {
    for (const vault of this.#entries.keys()) this.distrust(vault);
  }

  /** Forgets a vault: it was just created, so whatever was cached under the name is void. */
  forget(vault: string): void {
    this.#entries.delete(vault);
  }

  /** The cached entry of `vault`, loaded on first use. */
  protected async entry(vault: string): Promise<E | null> {
    const hit = this.#entries.get(vault);
    if (hit) {
      // Most recently used last, so eviction drops the oldest.
      this.#entries.delete(vault);
      this.#entries.set(vault, hit);
      return hit;
    }
    let loading = this.#loading.get(vault);
    if (!loading) {
      loading = this.#keep(vault).finally(() => this.#loading.delete(vault));
      this.#loading.set(vault, loading);
    }
    return loading;
  }

  /** Runs `fn` after the vault's earlier catch-ups and appends. */
  protected serial<R>(e: E, fn: () => Promise<R>): Promise<R> {
    const run = e.queue.catch(() => undefined).then(fn);
    e.queue = run;
    return run;
  }

  async #keep(vault: string): Promise<E | null> {
    const e = await this.load(vault);
    if (!e) return null;
    this.#entries.set(vault, e);
    if (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value!);
    return e;
  }

  /**
   * One look at storage for every check of `vault` made in this turn of the
   * event loop: made once the turn's requests have all arrived (the check
   * phase), so it still sees every object stored before any of them came,
   * and a busy relay asks once per vault and turn instead of once per request.
   */
  async #look(vault: string, e: E): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    // Checks from here on arrived after this look began: they wait for a look of their own.
    delete e.look;
    const generation = e.generation;
    const continuity = this.#trust?.continuity();
    const quiet = await this.look(vault, e);
    if (quiet && this.#trust && continuity !== undefined && e.generation === generation && this.#trust.continuity() === continuity) {
      e.checked = { at: this.#now(), continuity };
    }
  }

  #trusted(e: E): boolean {
    const t = this.#trust;
    return t !== undefined && e.checked !== undefined && e.checked.continuity === t.continuity() && this.#now() - e.checked.at < t.ms;
  }

  #now(): number {
    return (this.#trust?.now ?? Date.now)();
  }
}
