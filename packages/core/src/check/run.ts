/**
 * @module check/run
 * What every part of a check shares: the vault's engine context (used
 * read-only), a remote that refuses writes, the layout of the listing,
 * the problem log and the progress count.
 */
import { invariant } from '../base/errors.js';
import type { Remote } from '../ports/remote.js';
import { decorateRemote } from '../ports/capabilities.js';
import type { EngineContext } from '../sync/context.js';
import { DeviceRegistry } from '../identity/registry.js';
import type { RemoteLayout } from './layout.js';
import type { CheckLog } from './report.js';

export interface CheckRun {
  /** The vault's context: its keys and verified registry. Never written through. */
  readonly ctx: EngineContext;
  /** The remote, reads only. */
  readonly remote: Remote;
  readonly layout: RemoteLayout;
  readonly log: CheckLog;
  readonly signal: AbortSignal | undefined;
  /** Reads one listed object (null if it vanished since the listing) and counts it for progress. */
  read(key: string): Promise<Uint8Array | null>;
  /** The registry the checks judge signers by (set by the registry check). */
  registry: DeviceRegistry;
  /** Device → the epoch its revocation started (from the registry entries on the remote). */
  readonly revokedAt: Map<string, number>;
  /** Epoch keys this check could obtain (from this device's store and the remote). */
  readonly epochKeys: Map<number, Uint8Array>;
}

/** Reads in flight ahead of the verifier: hides a remote's latency (one S3 GET costs tens of ms) while memory stays within a few objects. */
export const READ_AHEAD = 4;

/**
 * Reads `keys` with {@link CheckRun.read}, in order, up to `READ_AHEAD`
 * ahead of the consumer. A read that fails is thrown when its turn comes.
 */
export async function* readInOrder(run: CheckRun, keys: readonly string[]): AsyncGenerator<Uint8Array | null> {
  const inFlight: Promise<Uint8Array | null>[] = [];
  let next = 0;
  for (let i = 0; i < keys.length; i++) {
    while (inFlight.length < READ_AHEAD && next < keys.length) {
      const p = run.read(keys[next++]!);
      p.catch(() => undefined); // awaited in its turn; never an unhandled rejection if the consumer stops early
      inFlight.push(p);
    }
    yield await inFlight.shift()!;
  }
}

/**
 * A remote that reads through `remote` and writes, deletes and closes as
 * `o` says (through `remote` where `o` says nothing).
 */
export function withWrites(remote: Remote, o: Partial<Pick<Remote, 'put' | 'delete' | 'close'>>): Remote {
  return decorateRemote(remote, { ...o });
}

/** `remote` with every write refused: a check must never change the remote, whatever a bug asks. Closing it leaves `remote` open. */
export function readOnly(remote: Remote): Remote {
  const refuse = async (): Promise<void> => invariant(false, 'the check tried to write to the remote');
  return withWrites(remote, { put: refuse, delete: refuse, close: async () => undefined });
}

/**
 * An engine context for the sync and snapshot helpers a check reuses: it
 * reads through the check's read-only remote, and keeps what it learns in
 * memory only (epoch keys in `keys`, registry catch-ups in `registry`).
 */
export function checkContext(run: CheckRun, registry: DeviceRegistry = run.registry, keys: Map<number, Uint8Array> = run.epochKeys): EngineContext {
  return {
    ...run.ctx,
    remote: run.remote,
    registry,
    epochKeys: keys,
    rememberEpochKey: async (epoch, key) => void keys.set(epoch, key),
    saveRegistry: async () => undefined,
    progress: () => undefined,
  };
}

/** {@link checkContext} over a copy of the check's registry: helpers that catch the registry up (snapshot checks) leave the vault's own untouched. */
export function detachedContext(run: CheckRun): EngineContext {
  return checkContext(run, new DeviceRegistry(run.ctx.vaultId, run.registry.state));
}

/** `remote`, answering a read of `key` with `bytes` (already read and counted). */
export function withObject(remote: Remote, key: string, bytes: Uint8Array): Remote {
  return decorateRemote(remote, { get: async (k, o) => (k === key ? bytes : remote.get(k, o)) });
}
