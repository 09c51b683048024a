/**
 * @module live
 * The store behind every hook, without React: a value loaded from the
 * vault and loaded again when the vault says it may have changed, in the
 * shape `useSyncExternalStore` reads (subscribe + getSnapshot).
 *
 * - It loads only while someone listens: the first listener starts the
 *   vault subscription, the last one to leave stops it.
 * - Only the newest load counts: a slow older load that settles after a
 *   newer one is dropped, so a query never goes back to an older result.
 * - A reload that finds the same data keeps the previous snapshot object,
 *   so components do not re-render and results are referentially stable.
 */

/** What a hook returns: the data (undefined until the first load), whether a first load is under way, the last load's error. */
export interface Loaded<T> {
  readonly data: T | undefined;
  /** True until the first load settles. */
  readonly loading: boolean;
  /** The newest load's failure, cleared by the next success. */
  readonly error: Error | null;
  /** Loads again now (for what the vault emits no event about). */
  readonly reload: () => void;
}

/** Starts watching for reasons to reload; returns a function that stops. */
export type Watch = (reload: () => void) => () => void;

export class Live<T> {
  readonly #load: () => Promise<T>;
  readonly #watch: Watch;
  readonly #listeners = new Set<() => void>();
  #snapshot: Loaded<T>;
  #stop: (() => void) | undefined;
  /** Bumped by every load and by stop: a load applies its result only while it is still the newest. */
  #seq = 0;

  constructor(load: () => Promise<T>, watch: Watch) {
    this.#load = load;
    this.#watch = watch;
    this.#snapshot = { data: undefined, loading: true, error: null, reload: this.reload };
  }

  readonly subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    if (this.#listeners.size === 1) {
      this.#stop = this.#watch(this.reload);
      this.reload();
    }
    return () => {
      if (!this.#listeners.delete(listener) || this.#listeners.size > 0) return;
      this.#seq++;
      this.#stop?.();
      this.#stop = undefined;
    };
  };

  readonly getSnapshot = (): Loaded<T> => this.#snapshot;

  readonly reload = (): void => {
    const seq = ++this.#seq;
    let pending: Promise<T>;
    try {
      pending = this.#load();
    } catch (e) {
      pending = Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    pending.then(
      (data) => seq === this.#seq && this.#set(sameJson(data, this.#snapshot.data) ? this.#snapshot.data : data, null),
      (error: unknown) => seq === this.#seq && this.#set(this.#snapshot.data, error instanceof Error ? error : new Error(String(error))),
    );
  };

  #set(data: T | undefined, error: Error | null): void {
    const s = this.#snapshot;
    if (data === s.data && !s.loading && sameError(error, s.error)) return;
    this.#snapshot = { data, loading: false, error, reload: this.reload };
    for (const fn of [...this.#listeners]) fn();
  }
}

/** Records are JSON, so JSON text equality is value equality here (fields come in one documented order). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return JSON.stringify(a, errorText) === JSON.stringify(b, errorText);
}

function errorText(_key: string, value: unknown): unknown {
  return value instanceof Error ? `${value.name}: ${value.message}` : value;
}

function sameError(a: Error | null, b: Error | null): boolean {
  return a === b || (a !== null && b !== null && a.name === b.name && a.message === b.message);
}
