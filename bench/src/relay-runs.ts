/**
 * The relay section of `npm run bench`: propagation latency A → B on the
 * embedded relay and across two scale-out processes sharing PostgreSQL and
 * S3 (each through auto-sync, and straight from watch to pull),
 * then load at the planned rate, and at doubled (or halved) rates until
 * delivery p99 crosses 100 ms, then between the two rates either side. Each measurement is a worker (tasks/relay.ts) that starts
 * its own relay process.
 * @module
 */
import { startScaleOutServices, type ScaleOutServices } from '@kith/relay-server/testing';
import type { Figures } from './measure.js';
import type { RelayPlan } from './options.js';
import { task, type Entry } from './series.js';

/** What the relay section measured, as written to results.json. */
export interface RelayResults {
  /** Changes per latency run. */
  readonly changes: number;
  /** Propagation A → B by setup: `embedded`, `scale-out` (auto-sync), and each with `-watch` (watch → pull). */
  readonly latency: Record<string, Entry>;
  /** Load at the planned rate first, then each step of the sweep that ran (in the order run). */
  readonly load: Entry[];
  /** Load on two scale-out processes (devices spread over both): the planned rate, then the target rate (full runs only). */
  readonly loadScaleOut?: Entry[];
}

/** Runs `run` in a fresh directory as one series (see run.ts); undefined when it failed (recorded there). */
export type FreshRun = (label: string, n: number, run: (dir: string) => Figures) => Entry | undefined;

/** Seconds of each sweep step (the planned rate gets the plan's full time). */
const SWEEP_SECONDS = 10;

/** Delivery p99 the issue asks for, ms. */
export const P99_TARGET_MS = 100;

/** Changes per second the issue asks one relay process to deliver to 1,000 connections within {@link P99_TARGET_MS}. */
export const RATE_TARGET = 1000;

/** Past its capacity: p99 above target, or more than 1 % of the deliveries missing. */
export function saturated(f: Figures): boolean {
  const expected = (f['expectedPerSec'] ?? 0) * (f['seconds'] ?? 0);
  return !((f['deliveredP99Ms'] ?? Infinity) <= P99_TARGET_MS) || (f['missed'] ?? 0) > 0.01 * expected;
}

/**
 * The next rate to try, given the highest that kept up and the lowest that
 * did not (either may be unknown yet): double, halve, or split the gap;
 * undefined once the gap is closed.
 */
export function nextRate(ok: number | undefined, over: number | undefined): number | undefined {
  const rate = ok !== undefined && over !== undefined ? Math.round((ok + over) / 2) : ok !== undefined ? ok * 2 : Math.max(1, Math.round((over ?? 2) / 2));
  return rate === ok || rate === over ? undefined : rate;
}

/**
 * Measures the relay section of `plan`. Scale-out rows run on a PostgreSQL
 * and an s3rver started here; if they cannot start, `failed` is told and
 * the rest goes on.
 */
export async function measureRelay(plan: RelayPlan, fresh: FreshRun, failed: (message: string) => void): Promise<RelayResults> {
  const n = plan.changes;
  const latency: Record<string, Entry> = {};
  const measure = (name: string, spec: string, label: string, env: Record<string, string> = {}): void => {
    const e = fresh(`relay latency, ${label}, ${n.toLocaleString('en-US')} changes`, n, (d) => task(spec, n, d, env));
    if (e) latency[name] = e;
  };
  measure('embedded', 'relay.latency', 'embedded, auto-sync');
  measure('embedded-watch', 'relay.latencyWatch', 'embedded, watch → pull');
  let services: ScaleOutServices | undefined;
  try {
    services = await startScaleOutServices();
  } catch (e) {
    failed(`relay scale-out: PostgreSQL and s3rver did not start: ${(e as Error).message}`);
  }
  try {
    if (services) {
      for (const [name, spec, how] of [
        ['scale-out', 'relay.latency', 'auto-sync'],
        ['scale-out-watch', 'relay.latencyWatch', 'watch → pull'],
      ] as const) {
        // A fresh database and bucket per run, as an embedded run gets a fresh directory.
        const target = await services.fresh();
        measure(name, spec, `scale-out, ${how}`, { KITH_BENCH_PG: target.postgres, KITH_BENCH_S3: target.s3 });
      }
    }

    const load: Entry[] = [];
    const loadRun = (into: Entry[], rate: number, seconds: number, where = 'one process', env: Record<string, string> = {}): Entry | undefined => {
      const e = fresh(
        `relay load, ${plan.devices.toLocaleString('en-US')} connections on ${where}, ${rate.toLocaleString('en-US')} changes/s for ${seconds} s`,
        plan.devices,
        (d) => task('relay.load', plan.devices, d, { KITH_BENCH_RATE: String(rate), KITH_BENCH_SECONDS: String(seconds), ...env }),
      );
      if (e) into.push(e);
      return e;
    };
    const run = (rate: number, seconds: number): Entry | undefined => loadRun(load, rate, seconds);
    const first = run(plan.rate, plan.seconds);
    if (first) {
      // Double (or halve) until a step crosses over, then halve the gap between the last rate that kept up and the first that did not.
      let ok = saturated(first.figures) ? undefined : plan.rate;
      let over = ok === undefined ? plan.rate : undefined;
      for (let i = 0; i < plan.sweepSteps; i++) {
        const rate = nextRate(ok, over);
        if (rate === undefined) break;
        const e = run(rate, SWEEP_SECONDS);
        if (!e) break;
        if (saturated(e.figures)) over = rate;
        else ok = rate;
      }
      // The target rate itself is always measured when the sweep runs, so the target is judged on a figure, not inferred.
      if (plan.sweepSteps > 0 && !load.some((e) => (e.figures['offeredPerSec'] ?? 0) >= RATE_TARGET)) run(RATE_TARGET, SWEEP_SECONDS);
    }

    // Scale-out beside it: the same load over two processes sharing PostgreSQL and S3 (each run on a fresh database and bucket).
    const loadScaleOut: Entry[] = [];
    for (const rate of services ? (plan.sweepSteps > 0 ? [plan.rate, RATE_TARGET] : [plan.rate]) : []) {
      const target = await services!.fresh();
      loadRun(loadScaleOut, rate, plan.sweepSteps > 0 ? SWEEP_SECONDS : plan.seconds, 'two scale-out processes', {
        KITH_BENCH_PG: target.postgres,
        KITH_BENCH_S3: target.s3,
      });
    }
    return { changes: n, latency, load, ...(services ? { loadScaleOut } : {}) };
  } finally {
    await services?.stop();
  }
}
