/**
 * @module blobs/task-window
 * Bounded concurrency for blob transfers: a few chunks hashed, encrypted
 * and written at once, so the disk or network works while the CPU does,
 * with memory bounded by the window rather than the blob.
 */

/**
 * Runs at most `size` tasks at once. `add` waits for a free slot; after a
 * task fails, `add` and `drain` wait for the others to settle and throw the
 * first failure, so nothing is still writing when the caller sees it.
 */
export class TaskWindow {
  readonly #size: number;
  readonly #running = new Set<Promise<void>>();
  #failure: { error: unknown } | undefined;

  constructor(size: number) {
    this.#size = size;
  }

  /** Starts `task` once fewer than `size` run. */
  async add(task: () => Promise<void>): Promise<void> {
    while (this.#running.size >= this.#size && !this.#failure) await Promise.race(this.#running);
    if (this.#failure) return this.drain();
    const p: Promise<void> = task()
      .catch((error: unknown) => void (this.#failure ??= { error }))
      .finally(() => this.#running.delete(p));
    this.#running.add(p);
  }

  /** Waits for every task; throws the first failure. */
  async drain(): Promise<void> {
    while (this.#running.size > 0) await Promise.all(this.#running);
    if (this.#failure) throw this.#failure.error;
  }
}

/**
 * Whether to spend a probe (an existence check) on the next chunk of a
 * blob: always, until `patience` probes in a row came out negative; then
 * only every `every`th chunk, until one is positive. A new file stops
 * paying for existence checks, yet an already stored stretch further on
 * is noticed within `every` chunks (plus the chunks already in flight).
 */
export class Probe {
  readonly #patience: number;
  readonly #every: number;
  #negatives = 0;
  #skipped = 0;

  constructor(patience: number, every: number) {
    this.#patience = patience;
    this.#every = every;
  }

  /** True when this chunk should be probed. */
  next(): boolean {
    if (this.#negatives < this.#patience || ++this.#skipped >= this.#every) {
      this.#skipped = 0;
      return true;
    }
    return false;
  }

  /** The outcome of a probe. */
  report(positive: boolean): void {
    this.#negatives = positive ? 0 : this.#negatives + 1;
  }
}
