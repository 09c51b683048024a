/**
 * @module snapshot/chunks
 * What snapshots need of the blob layer: storing and reading single
 * chunks. `Blobs` provides it; the object layout (one object per chunk,
 * or packs) is the blob layer's business.
 */
import { MAX_CHUNK } from '../blobs/chunker.js';
import { decodeBlobObject } from '../format/blob-format.js';
export interface ChunkStore {
  /** Stores a chunk unless the remote holds it; returns its id and the bytes sent. */
  putChunk(plain: Uint8Array, signal?: AbortSignal): Promise<{ id: string; sent: number }>;
  /** A chunk's plaintext, verified against its id. */
  getChunk(id: string, signal?: AbortSignal): Promise<Uint8Array>;
}

/** Chunks of a snapshot's state fetched ahead of the one being parsed. */
export const READ_AHEAD = 12;

/** A snapshot chunk's stored bytes decrypted and checked against its id `id`, as the blob layer checks a chunk. */
export function openChunk(bytes: Uint8Array, id: string, vaultId: string, epochKey: (epoch: number) => Uint8Array | undefined): Promise<Uint8Array> {
  return decodeBlobObject('chunk', bytes, { vaultId, expectId: id, epochKey, maxBytes: MAX_CHUNK });
}
