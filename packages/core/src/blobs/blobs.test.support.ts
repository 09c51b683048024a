/** Shared by the blob tests; named `*.test.*` so the package's tarball leaves it out. */
import { createCipheriv } from 'node:crypto';

/** Deterministic incompressible bytes (AES-CTR keystream of a seed). */
export const noise = (n: number, seed = 1): Uint8Array => {
  const key = Buffer.alloc(32);
  key.writeUInt32BE(seed);
  return new Uint8Array(createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(n)));
};
