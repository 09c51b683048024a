/**
 * check/chain: the walk of a numbered hash chain (membership entries, a
 * person's device certificates) against a model. Each object of a chain
 * of n is kept, deleted, altered or replaced by another valid one; the tail
 * may be cut; a pin may name a position this device verified. The chain
 * breaks at the first of: a gap, an altered object, the pinned object
 * replaced, the pin beyond the end. Exactly that object is reported (a
 * gap or a cut tail missing, anything else damaged), then every listed
 * object after it as unverifiable, and nothing else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ErrorCode, KithError } from '../base/errors.js';
import { walkChain } from './chain.js';
import { CheckLog } from './report.js';
import type { CheckRun } from './run.js';

/** keep: the genuine object; alter: fails verification; other: another valid object (a fork if pinned). */
type Fate = 'keep' | 'delete' | 'alter' | 'other';
const keyOf = (seq: number): string => `chain/${String(seq).padStart(12, '0')}`;

test('property: a chain walk reports exactly where the chain breaks, and every listed object after it', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.constantFrom<Fate>('keep', 'keep', 'keep', 'delete', 'alter', 'other'), { minLength: 0, maxLength: 8 }),
      fc.nat(8),
      fc.option(fc.nat(8), { nil: undefined }),
      async (fates, cut, pinAt) => {
        const n = fates.length;
        const end = Math.min(n, cut);
        const objects = new Map<string, Uint8Array>();
        const listed = new Map<number, string>();
        for (let seq = 1; seq <= end; seq++) {
          const fate = fates[seq - 1]!;
          if (fate === 'delete') continue;
          objects.set(keyOf(seq), Uint8Array.of(seq, { keep: 0, alter: 1, other: 2 }[fate]));
          listed.set(seq, keyOf(seq));
        }
        // The pin: the genuine object at a seq of the full chain.
        const pin = pinAt !== undefined && pinAt >= 1 && pinAt <= n ? { seq: pinAt, hash: Uint8Array.of(pinAt, 0) } : undefined;
        const log = new CheckLog();
        const run = { log, signal: undefined, read: async (k: string) => objects.get(k) ?? null } as unknown as CheckRun;
        let next = 1;
        const broken = await walkChain(run, {
          name: (seq) => `object ${seq}`,
          listed,
          keyOf,
          pin,
          hint: 'restore it',
          accept: async (bytes) => {
            if (bytes[0] !== next) throw new KithError(ErrorCode.IntegrityChain, `object ${next} holds ${bytes[0]}`);
            if (bytes[1] === 1) throw new KithError(ErrorCode.IntegrityCorrupt, `object ${next} is altered`);
            next++;
            return bytes.slice();
          },
        });

        // A deleted tail leaves no trace but a pin beyond what is listed.
        const listedEnd = Math.max(0, ...listed.keys());
        const last = Math.max(listedEnd, pin?.seq ?? 0);
        let expected: number | undefined;
        for (let seq = 1; seq <= last && expected === undefined; seq++) {
          const fate = seq <= listedEnd ? fates[seq - 1]! : 'delete';
          if (fate === 'delete' || fate === 'alter' || (fate === 'other' && pin?.seq === seq)) expected = seq;
        }
        assert.equal(broken, expected);
        const want: [string, string, string][] = [];
        if (expected !== undefined) {
          const fate = expected <= listedEnd ? fates[expected - 1]! : 'delete';
          const code =
            fate === 'alter' ? ErrorCode.IntegrityCorrupt : fate === 'delete' && expected > listedEnd ? ErrorCode.IntegrityRollback : ErrorCode.IntegrityChain;
          want.push([fate === 'delete' ? 'missing' : 'damaged', keyOf(expected), code]);
          for (const seq of [...listed.keys()].sort((a, b) => a - b)) if (seq > expected) want.push(['damaged', keyOf(seq), ErrorCode.IntegrityChain]);
        }
        assert.deepEqual(
          log.problems.map((p) => [p.kind, p.key, p.code]),
          want,
        );
      },
    ),
    { numRuns: 300, seed: 16 },
  );
});
