/**
 * @module identity/heads-read
 * A `heads/` listing with the head bytes read and the heads verified.
 * What a restoring or pairing device read to catch up with the registry
 * is handed to its first pull, which lists the heads again (a pull sees
 * the remote as it is when called) but reads only the heads whose etag
 * moved since; that pull's bootstrap and the pull itself then share one
 * listing and one read of each head. The pull verifies every head again.
 */
import type { Head } from '../format/index.js';
import type { RemoteObjectInfo } from '../ports/remote.js';

export interface HeadsRead {
  /** The `heads/` listing as read. */
  readonly listing: readonly RemoteObjectInfo[];
  /** The bytes read of each listed head, by key (absent: not read, or gone). */
  readonly bytes: ReadonlyMap<string, Uint8Array>;
  /** The heads that verified against the registry, by device. */
  readonly verified: ReadonlyMap<string, Head>;
}
