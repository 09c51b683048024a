/**
 * @module vault/spaces/space-blobs
 * A space's attachments: the personal space's blob store (`Blobs`: chunks
 * and manifests under `blobs/`, content-defined chunking keyed by the
 * epoch key) over the space's remote and store, with the space's id in
 * the vaultId slot and the space's epochs standing in for the registry's:
 * a blob is sealed under the space's current epoch key, and read with the
 * key of the epoch its objects name (docs/FORMAT.md "Spaces"). A reader
 * (or a removed member, or a revoked device) is refused before anything
 * is sent. No local cache and no garbage collection yet.
 */
import { Blobs } from '../../blobs/blobs.js';
import type { DeviceRegistry } from '../../identity/registry.js';
import { assertMayWrite } from '../../spaces/space-segments.js';
import type { EngineContext } from '../../sync/context.js';
import type { Deps } from '../../base/deps.js';
import type { Remote } from '../../ports/remote.js';
import type { Store } from '../../ports/store.js';
import type { SpaceActor } from '../../spaces/space-ops.js';
import type { SpaceState } from '../../spaces/space-state.js';
import { ownEpochKey } from './older-keys.js';
import type { SpaceBlobs } from './space-records.js';

/** What the blobs need of a space opened locally (LocalSpace). */
interface BlobsSpace {
  readonly spaceId: string;
  readonly state: SpaceState;
  readonly store: Store;
  readonly remote: Remote;
  readonly deps: Deps;
  readonly me: SpaceActor;
  ready(): Promise<SpaceActor>;
  refresh(again?: boolean): Promise<SpaceState>;
}

/**
 * The engine context Blobs runs on, for one space: what Blobs asks of the
 * registry (the current epoch, catching up, "is this device still in")
 * answered from the space's verified state.
 */
function spaceContext(local: BlobsSpace): EngineContext {
  const epochKeys = new Map<number, Uint8Array>();
  const state = local.state;
  /** Opens every epoch key this device holds that is not in memory yet. */
  const loadKeys = async (): Promise<void> => {
    const me = await local.ready();
    for (let epoch = 0; epoch < state.epochs.count; epoch++) {
      if (epochKeys.has(epoch)) continue;
      const key = await ownEpochKey(local.remote, state, me, epoch);
      if (key) epochKeys.set(epoch, key);
    }
  };
  const registry = {
    get epoch(): number {
      return state.epochs.current?.epoch ?? 0;
    },
    // Blobs catches the registry up before it encrypts anything new: here, the space's state, then the keys.
    sync: async (): Promise<number> => {
      await local.refresh(true);
      await loadKeys();
      return 0;
    },
    // "Is this device still in": for a space, may it write there (KITH_REMOVED, KITH_FORBIDDEN, KITH_REVOKED).
    assertNotRevoked: (): void => assertMayWrite(state, { personId: local.me.person.personId, deviceId: local.me.deviceId }),
    opening: (): undefined => undefined,
  } as unknown as DeviceRegistry;
  return {
    store: local.store,
    remote: local.remote,
    deps: local.deps,
    vaultId: local.spaceId,
    get deviceId(): string {
      return local.me.deviceId;
    },
    get signSeed(): Uint8Array {
      return local.me.signSeed;
    },
    get boxSecret(): Uint8Array {
      return local.me.boxSecret;
    },
    epochKeys,
    registry,
    staleAfterMs: Infinity,
    rememberEpochKey: async (epoch, key) => void epochKeys.set(epoch, key),
    saveRegistry: async () => undefined,
    progress: () => undefined,
  };
}

/** The blobs of one space (see the module's note). */
export function spaceBlobs(local: BlobsSpace): SpaceBlobs {
  const ctx = spaceContext(local);
  const ready = async (): Promise<void> => {
    await local.refresh();
    if (ctx.epochKeys.size < local.state.epochs.count) await ctx.registry.sync(local.remote);
  };
  const blobs = new Blobs(ctx, undefined, ready, undefined, { holds: false }); // no GC runs on a space's blobs
  return {
    put: (source, meta, o) => blobs.put(source, meta, o),
    get: (ref, o) => blobs.get(ref, o),
    list: () => blobs.list(),
  };
}
