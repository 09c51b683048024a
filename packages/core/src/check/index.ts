/**
 * @module check
 * `vault.check()`: the remote's integrity on demand, in the spirit of
 * `restic check`. One listing of the whole remote, then one read per
 * object (chunks only with `readData`), each verified with the decoders
 * sync itself uses. It never writes to the remote, and keeps what it
 * learns (epoch keys, registry entries) out of the store: it changes
 * nothing anywhere.
 *
 * @example
 * const report = await vault.check({ readData: true });
 * for (const p of report.problems) console.log(p.kind, p.key, p.message);
 */
import { throwIfAborted } from '../ports/remote.js';
import type { EngineContext } from '../sync/context.js';
import { checkBlobs } from './blobs.js';
import { checkIdentities } from './identities.js';
import { checkInvites } from './invites.js';
import { checkSealedKeys } from './keys.js';
import { sortListing } from './layout.js';
import { checkRegistry } from './registry.js';
import { CheckLog, type CheckOptions, type CheckReport } from './report.js';
import { detachedContext, readOnly, type CheckRun } from './run.js';
import { checkSegments } from './segments.js';
import { checkSnapshots } from './snapshots.js';
import { checkSpaces } from './spaces.js';

export type { CheckCounts, CheckOptions, CheckPin, CheckProblem, CheckProblemKind, CheckProgress, CheckReport, CheckSpacePins } from './report.js';

/**
 * Checks everything on `ctx.remote`. `live` holds the manifest ids that
 * live records reference in this device's copy: a missing one is a
 * problem, and a manifest neither they nor any op on the remote mention
 * is unreferenced.
 */
export async function checkRemote(ctx: EngineContext, live: ReadonlySet<string>, o: CheckOptions = {}): Promise<CheckReport> {
  const readData = o.readData === true;
  const remote = readOnly(ctx.remote);
  const call = o.signal ? { signal: o.signal } : {};
  const log = new CheckLog();
  const listing = await remote.list('', call);
  log.counts.objects = listing.length;
  const layout = sortListing(listing, log);
  const total =
    (layout.vault ? 1 : 0) +
    layout.registry.size +
    layout.keys.length +
    layout.heads.size +
    [...layout.segments.values()].reduce((n, s) => n + s.size, 0) +
    layout.manifests.size +
    layout.snapshots.length +
    layout.marks.size +
    layout.identities.size +
    [...layout.spaces.values()].reduce(
      (n, s) =>
        n +
        s.members.size +
        s.epochs.size +
        s.keys.length +
        s.heads.size +
        [...s.certificates.values(), ...s.segments.values()].reduce((k, c) => k + c.size, 0),
      0,
    ) +
    (readData ? layout.chunks.size : 0);
  let done = 0;
  const run: CheckRun = {
    ctx,
    remote,
    layout,
    log,
    signal: o.signal,
    registry: ctx.registry,
    revokedAt: new Map(),
    epochKeys: new Map(),
    read: async (key) => {
      throwIfAborted(o.signal);
      const bytes = await remote.get(key, call);
      o.onProgress?.({ done: Math.min(++done, total), total });
      return bytes;
    },
  };
  log.counts.pairing = layout.pairing;
  await checkRegistry(run);
  // A revoked device holds no key of the newer epochs: everything since would look damaged to it.
  run.registry.assertNotRevoked(ctx.deviceId);
  await checkSealedKeys(run);
  const mentioned = new Set<string>();
  // Snapshots are opened (covers, manifests) with a copy of the registry: what catching it up learns stays in the check.
  const snapshots = detachedContext(run);
  const heads = await checkSegments(run, mentioned, snapshots);
  const snapshotChunks = await checkSnapshots(run, snapshots, heads, readData);
  await checkBlobs(run, live, mentioned, snapshotChunks, readData);
  await checkIdentities(run);
  await checkSpaces(run, o.spaces);
  await checkInvites(run);
  // Objects judged by their name alone (foreign, or sealed for an epoch that never started) were never read.
  if (done < total) o.onProgress?.({ done: total, total });
  return log.report(readData);
}
