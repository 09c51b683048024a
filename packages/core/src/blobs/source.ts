/**
 * @module blobs/source
 * What `vault.blobs.put` reads from: bytes, a web stream or an async iterable.
 */

export type BlobSource = Uint8Array | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

/** The pieces of a source, in order. */
export async function* bytesOf(source: BlobSource): AsyncIterable<Uint8Array> {
  if (source instanceof Uint8Array) {
    yield source;
    return;
  }
  if ('getReader' in source) {
    const reader = source.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  }
  yield* source;
}
