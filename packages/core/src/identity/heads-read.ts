/**
 * @module identity/heads-read
 * The `heads/` listing and head bytes a restoring or pairing device read
 * to catch up with the registry, handed to its first pull (snapshot
 * bootstrap included) so that pull reads them no second time. Nothing in
 * it is trusted by the taker beyond what it checks again: the pull
 * verifies every head's signature as it would; only `verified` is taken
 * as is, by the bootstrap, and it was verified against the registry then.
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
  /** When the listing was read (`deps.now()`): a handover older than {@link HANDOVER_MS} is not taken. */
  readonly at: number;
}

/** How long a first pull may take what restore read instead of reading the heads again. */
export const HANDOVER_MS = 30_000;
