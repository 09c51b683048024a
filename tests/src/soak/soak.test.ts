/**
 * The short soak that runs with `npm test`, so the soak cannot rot: a
 * fixed seed and a few dozen fault rounds on each remote (the long runs
 * are `npm run soak`). A failure prints the violations and the replay
 * command's arguments.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ALL_FAULTS, GATED_FAULTS, makePlan, REMOTE_KINDS } from './plan.js';
import { runPlan } from './run.js';

const ROUNDS = Number(process.env['KITH_SOAK_ROUNDS'] ?? 30);
const SEED = 20261206;

for (const remote of REMOTE_KINDS) {
  test(`soak: ${remote}, ${ROUNDS} fault rounds (seed ${SEED}) lose nothing acknowledged and converge`, { timeout: 10 * 60_000 }, async () => {
    const plan = makePlan({
      seed: SEED,
      rounds: ROUNDS,
      remote,
      faults: ALL_FAULTS.filter((k) => !GATED_FAULTS.includes(k)),
      faultRate: 0.5,
      poisonFields: true,
    });
    const r = await runPlan(plan);
    assert.deepEqual(r.violations, [], `replay: npm run soak -- --remote ${remote} --seed ${SEED} --rounds ${ROUNDS} --fault-rate 0.5`);
    assert.ok(r.stats.acknowledged > 0, 'writes were acknowledged');
    assert.ok(Object.keys(r.stats.faults).length > 0, 'faults were injected');
  });
}
