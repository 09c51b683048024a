/**
 * @module blobs/buffer-pool
 * Reused buffers for the chunks an upload assembles from several reads.
 * A fresh buffer is zero-filled, and V8 counts it as external memory and
 * runs a full mark-compact every few tens of MiB of those; at about a
 * thousand chunks a GiB, reuse spares the main thread (the upload's
 * bottleneck on two cores) a GiB of zeroing and a share of its collections.
 */
export class BufferPool {
  readonly #keep: number;
  readonly #step: number;
  readonly #free: ArrayBuffer[] = [];
  readonly #mine = new WeakSet<ArrayBuffer>();

  /** Keeps at most `keep` idle buffers; sizes are rounded up to `step` so one buffer fits many chunks. */
  constructor(keep: number, step: number) {
    this.#keep = keep;
    this.#step = step;
  }

  /** `n` bytes, contents unspecified; hand them back with {@link give} once nothing reads them. */
  readonly take = (n: number): Uint8Array => {
    const i = this.#free.findIndex((b) => b.byteLength >= n);
    let b = i >= 0 ? this.#free.splice(i, 1)[0] : undefined;
    if (!b) {
      b = new ArrayBuffer(Math.max(this.#step, Math.ceil(n / this.#step) * this.#step));
      this.#mine.add(b);
    }
    return new Uint8Array(b, 0, n);
  };

  /** Returns a buffer from {@link take}; any other view (a caller's input) is ignored. */
  give(view: Uint8Array): void {
    const b = view.buffer;
    if (!(b instanceof ArrayBuffer) || !this.#mine.has(b) || this.#free.includes(b)) return;
    if (this.#free.length < this.#keep) return void this.#free.push(b);
    // Full: keep the larger buffers, which fit more chunks.
    const smallest = this.#free.reduce((s, x, j) => (x.byteLength < this.#free[s]!.byteLength ? j : s), 0);
    if (this.#free[smallest]!.byteLength < b.byteLength) this.#free[smallest] = b;
  }
}
