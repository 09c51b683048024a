/**
 * @module snapshot/chunks
 * What snapshots need of the blob layer: storing and reading single
 * chunks. `Blobs` provides it; the object layout (one object per chunk,
 * or packs) is the blob layer's business.
 */
export interface ChunkStore {
  /** Stores a chunk unless the remote holds it; returns its id and the bytes sent. */
  putChunk(plain: Uint8Array, signal?: AbortSignal): Promise<{ id: string; sent: number }>;
  /** A chunk's plaintext, verified against its id. */
  getChunk(id: string, signal?: AbortSignal): Promise<Uint8Array>;
}

/** Chunks of a snapshot's state fetched ahead of the one being parsed. */
export const READ_AHEAD = 12;
