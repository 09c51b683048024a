/**
 * @module group-sync
 * Group commit for directory fsyncs. A put renames (or links) its fsynced
 * temp file into place, then must fsync the directory before it may
 * resolve: only then does the new entry survive a power loss. Puts that
 * land in one directory while an fsync of it runs share the next fsync,
 * so a burst of N puts (a blob's chunks) costs about two directory fsyncs
 * instead of N. No put is acknowledged early: a caller only ever joins an
 * fsync that has not started yet, which therefore covers its entry.
 */

interface DirState {
  /** The fsync now running, if any. */
  running: Promise<void> | undefined;
  /** The next fsync, not started yet: later callers join it. */
  queued: Promise<void> | undefined;
}

/** Shares directory fsyncs between concurrent callers (see the module comment). */
export class GroupSync {
  readonly #fsync: (dir: string) => Promise<void>;
  readonly #dirs = new Map<string, DirState>();

  /** `fsync(dir)` does the real work (open, fsync, close). */
  constructor(fsync: (dir: string) => Promise<void>) {
    this.#fsync = fsync;
  }

  /**
   * Resolves once an fsync of `dir` that started after this call has
   * finished; rejects with that fsync's error.
   */
  sync(dir: string): Promise<void> {
    let s = this.#dirs.get(dir);
    if (!s) this.#dirs.set(dir, (s = { running: undefined, queued: undefined }));
    return (s.queued ??= this.#next(dir, s));
  }

  async #next(dir: string, s: DirState): Promise<void> {
    // Always yields first, so s.queued is this call's promise by then. A failed
    // prior fsync is its own callers' error; this one gets a fresh try.
    await s.running?.catch(() => undefined);
    s.running = s.queued;
    s.queued = undefined; // from here on, a new entry needs the fsync after this one
    try {
      await this.#fsync(dir);
    } finally {
      s.running = undefined;
      if (!s.queued) this.#dirs.delete(dir);
    }
  }
}
