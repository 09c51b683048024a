/**
 * The soak's own parts, without processes: the scheduler is a pure
 * function of its seed, removing faults keeps every operation, and the
 * checker catches each broken promise it is meant to catch.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { clearRefusal, importId, Model, type Dump } from './model.js';
import { ALL_FAULTS, faultRounds, keepFaults, makePlan, REMOTE_KINDS } from './plan.js';

const planArb = fc.record({ seed: fc.nat(), rounds: fc.integer({ min: 1, max: 300 }), remote: fc.constantFrom(...REMOTE_KINDS) });

test('a plan is a function of its seed; keeping a subset of faults keeps every operation', () => {
  fc.assert(
    fc.property(planArb, fc.nat(), (o, pick) => {
      const plan = makePlan({ ...o, faults: ALL_FAULTS });
      assert.deepEqual(makePlan({ ...o, faults: ALL_FAULTS }), plan);
      const rounds = faultRounds(plan);
      const kept = new Set(rounds.filter((_, i) => (pick >> (i % 30)) & 1));
      const sub = keepFaults(plan, kept);
      assert.deepEqual(
        sub.steps.map((s) => [s.round, s.device, s.op]),
        plan.steps.map((s) => [s.round, s.device, s.op]),
      );
      assert.deepEqual(new Set(faultRounds(sub)), kept);
    }),
    { numRuns: 200 },
  );
});

const dump = (c: Dump['c'], s: Dump['s'] = []): Dump => ({ c, s });

test('the checker: a lost acknowledged write, a half import, a late read by a revoked device, divergence', () => {
  const m = new Model();
  m.write('a', 'a-k1', 5, true);
  m.write('a', 'a-k1', 9, false); // killed: may or may not have happened
  m.import('b', 7, 3, false);
  m.shared('a', 's1', 4, true);
  const ok = dump([{ id: 'a-k1', w: 9 }], [{ id: 's1', w: 4 }]);
  assert.deepEqual(
    m
      .check(
        new Map([
          ['x', ok],
          ['y', dump([{ id: 'a-k1', w: 5 }], [{ id: 's1', w: 4 }])],
        ]),
        new Map(),
      )
      .filter((v) => !v.includes('converge')),
    [],
  );
  const lost = m.check(new Map([['x', dump([], [{ id: 's1', w: 4 }])]]), new Map());
  assert.match(lost.join('\n'), /a-k1 holds round null; acknowledged 5/);
  const half = m.check(
    new Map([
      [
        'x',
        dump(
          [
            { id: 'a-k1', w: 5 },
            { id: importId('b', 7, 0), w: 7 },
          ],
          [{ id: 's1', w: 4 }],
        ),
      ],
    ]),
    new Map(),
  );
  assert.match(half.join('\n'), /half-applied \(1 of 3\)/);
  const diverged = m.check(
    new Map([
      ['x', ok],
      ['y', dump([{ id: 'a-k1', w: 5 }], [])],
    ]),
    new Map(),
  );
  assert.match(diverged.join('\n'), /did not converge/);
  m.revoked('r', 10);
  m.write('r', 'r-k1', 11, true); // after its revocation: must reach nobody
  const leaked = m.check(
    new Map([
      [
        'x',
        dump(
          [
            { id: 'a-k1', w: 9 },
            { id: 'r-k1', w: 11 },
          ],
          [{ id: 's1', w: 4 }],
        ),
      ],
    ]),
    new Map([['r', dump([{ id: 'a-k1', w: 12, by: 'a' }])]]),
  );
  assert.match(leaked.join('\n'), /no acknowledged or attempted write explains/);
  assert.match(leaked.join('\n'), /revoked device r \(round 10\) holds a-k1 written in round 12/);
});

test('a clear refusal is one line naming a KITH_ code', () => {
  assert.equal(clearRefusal('kith: disk full (KITH_STORE_FAILED)\n'), true);
  assert.equal(clearRefusal('Error: boom\n    at x (y.js:1:1)'), false);
  assert.equal(clearRefusal('kith: a (KITH_X)\nmore'), false);
});
