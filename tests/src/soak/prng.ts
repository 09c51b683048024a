/**
 * @module soak/prng
 * The soak's only source of randomness: a small seeded generator
 * (mulberry32), so a seed names a whole run — its operations and its faults.
 */

/** A seeded pseudo-random generator; not for keys. */
export class Rng {
  #s: number;

  constructor(seed: number) {
    this.#s = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#s = (this.#s + 0x6d2b79f5) >>> 0;
    let t = this.#s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(items.length)]!;
  }

  /** Picks a key of `weights` with probability proportional to its weight. */
  weighted<K extends string>(weights: Readonly<Partial<Record<K, number>>>): K {
    const entries = Object.entries(weights) as [K, number][];
    const total = entries.reduce((s, [, w]) => s + w, 0);
    let x = this.next() * total;
    for (const [k, w] of entries) if ((x -= w) < 0) return k;
    return entries[entries.length - 1]![0];
  }

  /** A generator for a sub-task, so that adding draws in one place does not shift another's. */
  fork(salt: number): Rng {
    return new Rng((Math.imul(this.#s ^ salt, 0x9e3779b1) + salt) >>> 0);
  }

  /** A 32-bit seed for another generator. */
  seed(): number {
    return Math.floor(this.next() * 2 ** 32) >>> 0;
  }
}
