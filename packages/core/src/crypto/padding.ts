/**
 * @module crypto/padding
 * Length padding for segments, apart from keys.ts so that sealing a
 * segment does not bring key generation (and its curve code) with it.
 */
/**
 * PADMÉ padding (Nikitin et al., PETS 2019): the padded length reveals at
 * most O(log log n) bits of the true length, with ≤ 12% overhead.
 */
export function padme(length: number): number {
  if (length < 2) return length;
  const e = Math.floor(Math.log2(length));
  const s = Math.floor(Math.log2(e)) + 1;
  const lastBits = e - s;
  const mask = 2 ** lastBits - 1;
  // (length + mask) & ~mask, written with arithmetic so it stays exact past 2^31.
  return Math.ceil(length / (mask + 1)) * (mask + 1);
}
