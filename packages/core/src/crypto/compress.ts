/**
 * @module crypto/compress
 * deflate-raw through the platform's CompressionStream (Node ≥ 18, all
 * current browsers), so the core carries no compression code of its own.
 * On Node, decompression of small payloads goes through node:zlib's
 * synchronous inflate instead (reached through `process.getBuiltinModule`,
 * so browser bundles never see it): DecompressionStream costs about ten
 * times its CPU there (a thread-pool job and stream plumbing per 16 KiB),
 * most of a snapshot chunk's decoding.
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

/** What this module needs of node:zlib. */
interface NodeZlib {
  inflateRawSync(bytes: Uint8Array, options: { maxOutputLength: number; chunkSize: number }): Uint8Array;
}

/** node:zlib where the platform has it (Node ≥ 20.16), else undefined (browsers). */
const nodeZlib = ((globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule?.('node:zlib') ?? undefined) as
  NodeZlib | undefined;
/**
 * Inflated synchronously: payloads up to 4 MiB with a cap up to 64 MiB (a segment's), so the event loop
 * waits at most the time of inflating 64 MiB (the cap stops a bomb there); anything larger streams.
 */
const SYNC_INFLATE_MAX = 4 * 1024 * 1024;
const SYNC_OUTPUT_MAX = 64 * 1024 * 1024;
/** node:zlib's default output buffer. */
const ZLIB_CHUNK = 16 * 1024;
/** Deflated text (JSON rows) expands about 4 to 7 times: an output buffer this many times the input usually takes it whole... */
const EXPANSION_GUESS = 8;
/** ...up to this size (a larger output takes several, as before). */
const OUT_BUFFER_MAX = 4 * 1024 * 1024;

/** Synchronous inflate with the same outcomes as the stream: the bytes, a bomb stopped at the cap, or malformed. */
function inflateSync(zlib: NodeZlib, bytes: Uint8Array, maxBytes: number): Uint8Array {
  const over = (): KithError => new KithError(ErrorCode.IntegrityCorrupt, `compressed payload expands beyond ${maxBytes} bytes`);
  let out: Uint8Array;
  try {
    // maxOutputLength must be at least 1: a cap of 0 is checked below.
    // One output buffer large enough for the usual payload: with the default 16 KiB, a 128 KiB snapshot chunk
    // took 8 buffers, 8 calls into zlib and a copy to join them, half its inflate time. A larger payload still
    // inflates whole, in more buffers; the cap bounds the guess.
    const chunkSize = Math.max(ZLIB_CHUNK, Math.min(bytes.length * EXPANSION_GUESS, maxBytes + 1, OUT_BUFFER_MAX));
    out = zlib.inflateRawSync(bytes, { maxOutputLength: Math.max(1, maxBytes), chunkSize });
  } catch (cause) {
    if ((cause as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') throw over();
    throw new KithError(ErrorCode.IntegrityCorrupt, 'compressed payload is malformed', { cause });
  }
  if (out.length > maxBytes) throw over();
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/**
 * deflate-raw decompression that stops as soon as the output passes
 * `maxBytes` (a decompression bomb never gets allocated in full).
 */
export async function decompress(bytes: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  if (nodeZlib && bytes.length <= SYNC_INFLATE_MAX && maxBytes <= SYNC_OUTPUT_MAX) return inflateSync(nodeZlib, bytes, maxBytes);
  try {
    return await transform(bytes, new DecompressionStream('deflate-raw'), maxBytes, () => {
      throw new KithError(ErrorCode.IntegrityCorrupt, `compressed payload expands beyond ${maxBytes} bytes`);
    });
  } catch (cause) {
    if (cause instanceof KithError) throw cause;
    throw new KithError(ErrorCode.IntegrityCorrupt, 'compressed payload is malformed', { cause });
  }
}
