import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AVG_CHUNK, Chunker, gearTable, MAX_CHUNK, MIN_CHUNK } from './chunker.js';
import { concatBytes } from '../crypto/index.js';
import { noise } from './blobs.test.support.js';

describe('chunker', () => {
  const gear = gearTable(new Uint8Array(32).fill(5));
  const chunk = (data: Uint8Array, splits: number[]) => {
    const c = new Chunker(gear);
    const out: Uint8Array[] = [];
    let at = 0;
    for (const s of [...splits, data.length]) {
      const end = Math.min(data.length, Math.max(at, s));
      out.push(...c.push(data.subarray(at, end)));
      at = end;
    }
    out.push(...c.end());
    return out;
  };
  test('chunks concatenate to the input, respect the size bounds, and do not depend on how the input was split', () => {
    const data = noise(9 * 1024 * 1024, 3);
    const whole = chunk(data, []);
    assert.ok(whole.length >= 3);
    assert.deepEqual(Buffer.concat(whole), Buffer.from(data));
    for (const c of whole.slice(0, -1)) assert.ok(c.length >= MIN_CHUNK && c.length <= MAX_CHUNK);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: data.length }), { maxLength: 6 }), (splits) => {
        const parts = chunk(
          data,
          [...splits].sort((a, b) => a - b),
        );
        assert.deepEqual(
          parts.map((p) => p.length),
          whole.map((p) => p.length),
        );
      }),
      { numRuns: 15 },
    );
  });
  test('cuts exactly where docs/FORMAT.md says, whatever the input alignment and split', () => {
    // The spec read literally: one byte at a time over the whole buffer.
    const spread = (k: number) => Array.from({ length: k }, (_, i) => 1 << Math.floor((i * 32) / k)).reduce((a, b) => a | b, 0) >>> 0;
    const [hard, easy] = [spread(22), spread(18)];
    const reference = (data: Uint8Array): number[] => {
      const sizes: number[] = [];
      for (let start = 0; start < data.length;) {
        const n = Math.min(MAX_CHUNK, data.length - start);
        let cut = n;
        let h = 0;
        for (let i = MIN_CHUNK; i < n; i++) {
          h = ((h << 1) + gear[data[start + i]!]!) >>> 0;
          if ((h & (i < AVG_CHUNK ? hard : easy)) === 0) {
            cut = i + 1;
            break;
          }
        }
        sizes.push(cut);
        start += cut;
      }
      return sizes;
    };
    // Low-entropy stretches make cuts land at MAX_CHUNK too.
    const data = concatBytes(noise(7 * 1024 * 1024, 5), new Uint8Array(9 * 1024 * 1024).fill(7), noise(3 * 1024 * 1024 + 3, 6));
    const expected = reference(data);
    assert.ok(expected.includes(MAX_CHUNK) && expected.some((s) => s < AVG_CHUNK) && expected.some((s) => s > AVG_CHUNK && s < MAX_CHUNK), expected.join());
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), fc.array(fc.integer({ min: 0, max: data.length }), { maxLength: 8 }), (shift, splits) => {
        // Inputs at every offset mod 4 from their buffer's start, cut anywhere.
        const shifted = new Uint8Array(data.length + shift);
        shifted.set(data, shift);
        const parts = chunk(
          shifted.subarray(shift),
          [...splits].sort((a, b) => a - b),
        );
        assert.deepEqual(
          parts.map((p) => p.length),
          expected,
        );
        assert.deepEqual(Buffer.concat(parts), Buffer.from(data));
      }),
      { numRuns: 12 },
    );
  });
  test('an edit in the middle changes only nearby chunks; another key cuts elsewhere', () => {
    const data = noise(8 * 1024 * 1024, 4);
    const edited = data.slice();
    edited[4 * 1024 * 1024]! ^= 0xff;
    const a = chunk(data, []).map((c) => Buffer.from(c).toString('base64'));
    const b = chunk(edited, []).map((c) => Buffer.from(c).toString('base64'));
    const shared = a.filter((x) => b.includes(x)).length;
    assert.ok(shared >= a.length - 2, `${shared} of ${a.length} chunks shared`);
    const other = new Chunker(gearTable(new Uint8Array(32).fill(6)));
    const otherCuts = [...other.push(data), ...other.end()].map((c) => c.length);
    assert.notDeepEqual(
      otherCuts,
      a.map((x) => Buffer.from(x, 'base64').length),
    );
  });
});
