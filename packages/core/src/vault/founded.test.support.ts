import { seededRandom } from '../base/deps.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { openMemoryStore } from '../testing/memory-store.js';
import { Vault } from './vault.js';

/** A vault on a memory remote (its objects in `objects`), with its founding device open. */
export async function founded(): Promise<{ objects: Map<string, Uint8Array>; vault: Vault; recoveryCode: string }> {
  const objects = new Map<string, Uint8Array>();
  const { vault, recoveryCode } = await Vault.create({
    store: openMemoryStore(),
    remote: openMemoryRemote(objects),
    remoteUrl: 'memory:',
    deps: { random: seededRandom(1) },
  });
  return { objects, vault, recoveryCode };
}
