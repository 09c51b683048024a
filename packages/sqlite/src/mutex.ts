/**
 * @module mutex
 * A FIFO async mutex. better-sqlite3 gives one connection one transaction at
 * a time, while Store transactions are async functions: without this, two
 * overlapping `write` calls would interleave their statements inside one
 * SQLite transaction, and a `read` would see another call's uncommitted rows.
 */

/** Serializes async critical sections in call order. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  /** Runs `fn` once every earlier `run` has settled; passes on its result. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((resolve) => (release = resolve));
    try {
      await prev;
      return await fn();
    } finally {
      release();
    }
  }
}
