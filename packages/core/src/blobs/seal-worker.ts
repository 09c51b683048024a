/**
 * @module blobs/seal-worker
 * The sealing thread's entry point (Node's worker_threads; started by
 * seal-thread.ts, never imported). It runs the very functions of
 * format/blob-format.ts, so its ids and objects are the bytes the main
 * thread would make; the nonce comes from the caller's random source.
 */
import { blobId, encodeBlobObjectParts } from '../format/blob-format.js';
import type { SealReply, SealRequest } from './seal-thread.js';

interface ParentPort {
  on(event: 'message', listener: (m: SealRequest) => void): void;
  postMessage(m: SealReply, transfer?: ArrayBuffer[]): void;
}

const port = (
  (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule?.('node:worker_threads') as
    { parentPort: ParentPort | null } | undefined
)?.parentPort;

async function answer(m: SealRequest): Promise<SealReply> {
  const plaintext = new Uint8Array(m.plain, 0, m.length);
  if (m.op === 'id') return { seq: m.seq, id: await blobId(m.epochKey, m.vaultId, plaintext) };
  const nonce = m.nonce;
  const random = (n: number): Uint8Array => {
    if (n !== nonce.length) throw new Error(`the sealing thread was given a ${nonce.length}-byte nonce, not ${n}`);
    return nonce;
  };
  const parts = await encodeBlobObjectParts('chunk', { vaultId: m.vaultId, epoch: m.epoch, epochKey: m.epochKey, id: m.id, plaintext, random });
  return { seq: m.seq, parts };
}

/** Whether `b` is the whole of its buffer, which can then be moved (a view would take the rest along). */
const ownsBuffer = (b: Uint8Array): boolean => b.byteOffset === 0 && b.byteLength === b.buffer.byteLength;

/**
 * The ciphertext is moved to the main thread, never copied here: this
 * thread makes few small objects, so its collector would run seldom and
 * let some 64 MiB of dead ciphertexts wait (V8's external-memory step),
 * while the main thread's runs often and frees them at once.
 */
const movable = (r: SealReply): ArrayBuffer[] => (r.parts ?? []).flatMap((b) => (b.length > 4096 && ownsBuffer(b) ? [b.buffer as ArrayBuffer] : []));

if (port) {
  port.on('message', (m) => {
    answer(m).then(
      (r) => port.postMessage(r, movable(r)),
      (e: unknown) => port.postMessage({ seq: m.seq, error: e instanceof Error ? e.message : String(e) }),
    );
  });
  // Requests sent before this point would wait in the port's queue; the main thread sends none until it reads this.
  port.postMessage({ seq: -1 });
}
