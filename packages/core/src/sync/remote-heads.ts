/**
 * @module sync/remote-heads
 * Every signed head on the remote that verifies against the registry, read
 * outside a pull (snapshot checks, compaction) or for a pull to take.
 */
import { isIntegrityError } from '../base/errors.js';
import { decodeHead, remoteKeys, type Head } from '../format/index.js';
import type { HeadsRead } from '../identity/heads-read.js';
import { readListedHeads } from '../identity/join.js';
import { isDeviceId } from '../model/hlc.js';
import type { EngineContext } from './context.js';

/** Heads by device; a head that does not verify is simply absent (the pull reports it). */
export async function readVerifiedHeads(ctx: EngineContext, signal?: AbortSignal): Promise<Map<string, Head>> {
  return (await listHeads(ctx, undefined, signal)).verified;
}

/**
 * The heads listed now, each read in the version listed, or taken from
 * `known` if listed there under the same etag; verified against the
 * registry (a head that does not verify is absent from `verified`).
 */
export async function listHeads(ctx: EngineContext, known?: HeadsRead, signal?: AbortSignal): Promise<HeadsRead & { verified: Map<string, Head> }> {
  const listing = await ctx.remote.list(remoteKeys.headsPrefix, signal ? { signal } : {});
  const bytes = await readListedHeads(ctx.remote, listing, known, signal);
  const verified = new Map<string, Head>();
  for (const info of listing) {
    const device = info.key.slice(remoteKeys.headsPrefix.length);
    const signPub = isDeviceId(device) ? ctx.registry.deviceSignPub(device) : undefined;
    const got = bytes.get(info.key);
    if (!signPub || !got) continue;
    try {
      verified.set(device, await decodeHead(got, { vaultId: ctx.vaultId, deviceId: device, signPub }));
    } catch (e) {
      if (!isIntegrityError(e)) throw e;
    }
  }
  return { listing, bytes, verified };
}
