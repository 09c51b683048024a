/**
 * @module deps
 * Randomness and time are injected so that tests are deterministic.
 */

/** Returns `n` cryptographically random bytes. */
export type RandomBytes = (n: number) => Uint8Array;
/** Milliseconds since the Unix epoch. */
export type Clock = () => number;

export interface Deps {
  readonly random: RandomBytes;
  readonly now: Clock;
}

/** WebCrypto's CSPRNG (chunked: getRandomValues takes at most 65,536 bytes). */
export const systemRandom: RandomBytes = (n) => {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
};

export const systemDeps: Deps = { random: systemRandom, now: () => Date.now() };

/**
 * A deterministic generator for tests (xorshift128+ over a seed): NOT for
 * keys in production.
 */
export function seededRandom(seed: number): RandomBytes {
  let s0 = (seed ^ 0x9e3779b9) >>> 0 || 1;
  let s1 = Math.imul(seed, 0x85ebca6b) >>> 0 || 2;
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      let x = s0;
      const y = s1;
      s0 = y;
      x ^= x << 23;
      x ^= x >>> 17;
      x ^= y ^ (y >>> 26);
      s1 = x >>> 0;
      out[i] = (s0 + s1) & 0xff;
    }
    return out;
  };
}
