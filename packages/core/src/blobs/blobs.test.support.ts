/** Shared by the blob tests; named `*.test.*` so the package's tarball leaves it out. */
import { createCipheriv } from 'node:crypto';
import { seededRandom } from '../base/deps.js';
import { Vault } from '../vault/vault.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { countingRemote } from '../ports/counting.js';
import { openMemoryStore } from '../testing/memory-store.js';
import { MemoryBlobCache } from '../testing/memory-blob-cache.js';

/** Deterministic incompressible bytes (AES-CTR keystream of a seed). */
export const noise = (n: number, seed = 1): Uint8Array => {
  const key = Buffer.alloc(32);
  key.writeUInt32BE(seed);
  return new Uint8Array(createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(n)));
};

/**
 * Two devices of one vault on one memory remote, each with a memory blob
 * cache, sharing a clock the test moves (`advance`) to step over GC graces.
 */
export const twoDevices = async () => {
  const objects = new Map<string, Uint8Array>();
  const remote = countingRemote(openMemoryRemote(objects));
  const cache = new MemoryBlobCache();
  let now = Date.UTC(2026, 10, 1);
  const { vault, recoveryCode } = await Vault.create({
    store: openMemoryStore(),
    remote,
    remoteUrl: 'memory:',
    blobCache: cache,
    deps: { random: seededRandom(1), now: () => now },
  });
  const other = await Vault.restore({
    store: openMemoryStore(),
    remote: openMemoryRemote(objects),
    remoteUrl: 'memory:',
    recoveryCode,
    blobCache: new MemoryBlobCache(),
    deps: { random: seededRandom(2), now: () => now },
  });
  return { vault, other, objects, remote, cache, advance: (ms: number) => (now += ms) };
};
