/**
 * @module sync/remote-heads
 * Every signed head on the remote that verifies against the registry, read
 * outside a pull (snapshot checks, compaction).
 */
import { isIntegrityError } from '../base/errors.js';
import { decodeHead, remoteKeys, type Head } from '../format/index.js';
import { isDeviceId } from '../model/hlc.js';
import type { EngineContext } from './context.js';

/** Heads by device; a head that does not verify is simply absent (the pull reports it). */
export async function readVerifiedHeads(ctx: EngineContext, signal?: AbortSignal): Promise<Map<string, Head>> {
  const out = new Map<string, Head>();
  const opts = signal ? { signal } : {};
  for (const info of await ctx.remote.list(remoteKeys.headsPrefix, opts)) {
    const device = info.key.slice(remoteKeys.headsPrefix.length);
    const signPub = isDeviceId(device) ? ctx.registry.deviceSignPub(device) : undefined;
    if (!signPub) continue;
    const bytes = await ctx.remote.get(info.key, opts);
    if (!bytes) continue;
    try {
      out.set(device, await decodeHead(bytes, { vaultId: ctx.vaultId, deviceId: device, signPub }));
    } catch (e) {
      if (!isIntegrityError(e)) throw e;
    }
  }
  return out;
}
