/**
 * @module soak/shrink
 * Shrinks a failing plan to the shortest fault sequence that still fails:
 * first the rounds after a failure seen mid-run go, then delta debugging
 * (ddmin) over the rounds that carry a fault, then the rounds after the
 * last fault kept, re-running the plan each time. The
 * operations stay exactly as the seed drew them; only faults are removed,
 * so the result replays with `--seed S --rounds N --only-faults r1,r2,...`.
 */
import { faultRounds, keepFaults, type Plan } from './plan.js';
import type { RunResult } from './run.js';

export interface Shrunk {
  /** Rounds of the plan kept (a prefix). */
  readonly rounds: number;
  /** The rounds whose faults are kept. */
  readonly faults: readonly number[];
  readonly result: RunResult;
  /** Re-runs spent. */
  readonly runs: number;
}

/**
 * `run` plays a plan and reports; `budget` caps the re-runs (real processes
 * make each one take seconds). Timing of real processes can make a
 * candidate pass that would fail another time: the shrinker keeps only
 * what it saw fail, so its answer always failed at least once.
 */
export async function shrink(
  plan: Plan,
  failed: RunResult,
  run: (p: Plan) => Promise<RunResult>,
  budget = 40,
  log: (l: string) => void = () => undefined,
): Promise<Shrunk> {
  let runs = 0;
  let upTo = Math.min(plan.steps.length, failed.failedAt + 1);
  let kept = faultRounds(plan).filter((r) => r < upTo);
  let best = failed;
  const fails = async (faults: readonly number[], n: number): Promise<RunResult | undefined> => {
    if (runs >= budget) return undefined;
    runs++;
    const r = await run(keepFaults(plan, new Set(faults), n));
    log(`  shrink run ${runs}: ${n} rounds, ${faults.length} faults -> ${r.violations.length ? 'fails' : 'passes'}`);
    return r.violations.length ? r : undefined;
  };
  // The failure seen mid-run needs nothing after it.
  if (upTo < plan.steps.length) {
    const r = await fails(kept, upTo);
    if (r) best = r;
    else {
      upTo = plan.steps.length;
      kept = faultRounds(plan);
    }
  }
  // ddmin over the fault rounds.
  let n = 2;
  while (kept.length >= 2 && runs < budget) {
    const size = Math.ceil(kept.length / n);
    let reduced = false;
    for (let i = 0; i < kept.length && runs < budget; i += size) {
      const complement = [...kept.slice(0, i), ...kept.slice(i + size)];
      const subset = kept.slice(i, i + size);
      for (const candidate of n === 2 ? [subset, complement] : [complement]) {
        const r = await fails(candidate, upTo);
        if (r) {
          kept = candidate;
          best = r;
          n = Math.max(n - 1, 2);
          reduced = true;
          break;
        }
      }
      if (reduced) break;
    }
    if (!reduced) {
      if (n >= kept.length) break;
      n = Math.min(kept.length, n * 2);
    }
  }
  // Then maybe no fault at all is needed (a bug in the plain operations).
  if (kept.length === 1) {
    const r = await fails([], upTo);
    if (r) {
      kept = [];
      best = r;
    }
  }
  // Last, the shortest prefix that still fails: a few rounds past the last fault kept, then more.
  const last = Math.max(-1, ...kept);
  for (const tail of [1, 4, 16, 64]) {
    const n = last + 1 + tail;
    if (n >= upTo) break;
    const r = await fails(kept, n);
    if (r) {
      upTo = n;
      best = r;
      break;
    }
  }
  return { rounds: upTo, faults: kept, result: best, runs };
}
