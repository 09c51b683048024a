/**
 * @module crypto/compress
 * deflate-raw through the platform's CompressionStream (Node ≥ 18, all
 * current browsers), so the core carries no compression code of its own.
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { buf, concatBytes } from './bytes.js';

async function drain(readable: ReadableStream<Uint8Array>, maxBytes: number, onOver: () => never): Promise<Uint8Array> {
  const reader = readable.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      onOver();
    }
    chunks.push(value);
  }
  return chunks.length === 1 ? chunks[0]! : concatBytes(...chunks);
}

async function transform(bytes: Uint8Array, stream: CompressionStream | DecompressionStream, maxBytes: number, onOver: () => never): Promise<Uint8Array> {
  const writer = stream.writable.getWriter();
  const written = writer.write(buf(bytes)).then(() => writer.close());
  // A failed write surfaces through the reader; keep it from being unhandled.
  written.catch(() => undefined);
  const out = await drain(stream.readable, maxBytes, onOver);
  await written;
  return out;
}

/** deflate-raw compression. */
export function compress(bytes: Uint8Array): Promise<Uint8Array> {
  return transform(bytes, new CompressionStream('deflate-raw'), Number.MAX_SAFE_INTEGER, () => {
    throw new KithError(ErrorCode.Internal, 'unreachable');
  });
}

/**
 * deflate-raw decompression that stops as soon as the output passes
 * `maxBytes` (a decompression bomb never gets allocated in full).
 */
export async function decompress(bytes: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  try {
    return await transform(bytes, new DecompressionStream('deflate-raw'), maxBytes, () => {
      throw new KithError(ErrorCode.IntegrityCorrupt, `compressed payload expands beyond ${maxBytes} bytes`);
    });
  } catch (cause) {
    if (cause instanceof KithError) throw cause;
    throw new KithError(ErrorCode.IntegrityCorrupt, 'compressed payload is malformed', { cause });
  }
}
