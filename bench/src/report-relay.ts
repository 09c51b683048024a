/**
 * The relay tables of the report and the issue's relay targets.
 * @module
 */
import { num, ms } from './report-format.js';
import { P99_TARGET_MS, RATE_TARGET, saturated, type RelayResults } from './relay-runs.js';

/** p50 target for propagation A → B on loopback, ms. */
const P50_TARGET_MS = 20;

/** What the CPU stall column means (both tables have it). */
const CPU_STALL =
  "CPU stall % = the share of the run in which some task of this machine (ours or anyone's) waited for a CPU (Linux PSI `some`, /proc/pressure/cpu): well above 0 means other work competed for the 2 cores and the latencies are inflated by it.";

/** Names of the latency rows: the relay setup and how B hears of a change. */
const SETUPS: Record<string, readonly [string, string]> = {
  embedded: ['embedded (1 process, SQLite)', 'auto-sync'],
  'embedded-watch': ['embedded (1 process, SQLite)', 'watch → pull'],
  'scale-out': ['scale-out (2 processes, PostgreSQL + S3)', 'auto-sync'],
  'scale-out-watch': ['scale-out (2 processes, PostgreSQL + S3)', 'watch → pull'],
};

/** Markdown lines of the relay section; targets go to `judge`. */
export function relayTables(r: RelayResults, judge: (target: string, met: boolean, detail: string) => void): string[] {
  const out: string[] = [];
  const rows = Object.entries(r.latency);
  if (rows.length) {
    out.push(
      '',
      `### Relay: propagation A → B, ${r.changes.toLocaleString('en-US')} changes one at a time (library level, SQLite stores, relay in its own process)`,
      '',
      '| relay | B hears by | p50 ms | p99 ms | max ms | A put ms | A push ms | head PUT → B notified ms | B waits ms | B pull → seen ms | relay peak RSS MiB | CPU stall % |',
      '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    );
    for (const [name, e] of rows) {
      const f = e.figures;
      const [relay, how] = SETUPS[name] ?? [name, ''];
      out.push(
        `| ${relay} | ${how} | ${ms(f['p50Ms'])} | ${ms(f['p99Ms'])} | ${ms(f['maxMs'])} | ${ms(f['writeP50Ms'])} | ${ms(f['pushP50Ms'])} | ${ms(f['notifyP50Ms'])} | ${ms(f['waitP50Ms'])} | ${ms(f['pullP50Ms'])} | ${num(f['relayRssMiB'])} | ${num(f['cpuStallPct'])} |`,
      );
      const label = `relay propagation A → B, ${relay}, ${how}`;
      if (f['p50Ms'] !== undefined) judge(`${label}: p50 < ${P50_TARGET_MS} ms`, f['p50Ms'] < P50_TARGET_MS, `${ms(f['p50Ms'])} ms`);
      if (f['p99Ms'] !== undefined) judge(`${label}: p99 < ${P99_TARGET_MS} ms`, f['p99Ms'] < P99_TARGET_MS, `${ms(f['p99Ms'])} ms`);
    }
    if (rows.some(([name]) => name.startsWith('scale-out')))
      out.push(
        '',
        'Scale-out runs on the test PostgreSQL (`fsync=off`, `synchronous_commit=off`) and s3rver (no fsync), so unlike the embedded relay (SQLite, `synchronous=FULL`) its writes pay for no flush to disk.',
      );
    out.push('', CPU_STALL);
    out.push(
      '',
      "Phases are medians over the changes: A put = the local write; A push = a registry listing (revocations are looked for before every segment), the segment built and PUT, the head PUT, and the outbox marked (results.json has the requests apart); head PUT → B notified = from the start of the head PUT until B's watch fires; B waits = until B's pull starts; B pull → seen = list heads, read the head, read the segment (batch-get), apply, and B's subscription called (results.json has the requests apart).",
    );
  }
  if (r.load.length) {
    const f0 = r.load[0]!.figures;
    out.push(
      '',
      `### Relay under load: ${num(f0['devices'])} device connections (${num(f0['vaults'])} vaults of ${num((f0['devices'] ?? 0) / (f0['vaults'] ?? 1))}, one writer each), one relay process`,
      '',
      ...loadTable(r.load),
    );
    // The highest rate that kept up, and the lowest that did not.
    const rate = (e: (typeof r.load)[number]): number => e.figures['offeredPerSec'] ?? 0;
    const ok = r.load.filter((e) => !saturated(e.figures)).map(rate);
    const over = r.load.filter((e) => saturated(e.figures)).map(rate);
    const sat =
      r.load.length < 2
        ? ''
        : ` Saturation (delivery p99 over ${P99_TARGET_MS} ms, or over 1 % of deliveries missing): ${ok.length ? `kept up at ${num(Math.max(...ok))} changes/s` : `not kept up at any rate tried`}${over.length ? `, fell behind at ${num(Math.min(...over))} changes/s` : `, not reached up to ${num(Math.max(...ok))}`}.`;
    judgeRate(r, judge);
    out.push(
      '',
      CPU_STALL +
        " Rates count what the relay got done within the measured seconds (a change written = its head PUT answered); latencies and missed deliveries are those of the changes due in them, counted from when each was due (open loop) until the other devices of its vault are told (delivery) and have read the head and the segment (read), waiting up to 5 s after the run. Relay and load generator share the machine's cores, so the relay gets only part of it." +
        sat,
    );
    if (r.loadScaleOut?.length) {
      out.push(
        '',
        `### Relay under load, scale-out beside it: the same devices spread over two processes sharing PostgreSQL and S3 (relay CPU and % = both processes together, RSS = the larger)`,
        '',
        ...loadTable(r.loadScaleOut),
      );
    }
  }
  return out;
}

/** Header and one row per run of a load table. */
function loadTable(entries: RelayResults['load']): string[] {
  return [
    '| offered changes/s | s | changes/s written | notifications/s delivered (expected) | object reads/s | delivery p50 ms | delivery p99 ms | read p99 ms | write ack p99 ms | missed | errors | relay RSS MiB idle → peak | relay CPU % | relay CPU ms per change | load generator CPU % | CPU stall % |',
    '|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    ...entries.map(
      ({ figures: f }) =>
        `| ${num(f['offeredPerSec'])} | ${num(f['seconds'])} | ${num(f['changesPerSec'])} | ${num(f['deliveredPerSec'])} (${num(f['expectedPerSec'])}) | ${num(f['readsPerSec'])} | ${ms(f['deliveredP50Ms'])} | ${ms(f['deliveredP99Ms'])} | ${ms(f['fetchedP99Ms'])} | ${ms(f['ackedP99Ms'])} | ${num(f['missed'])} | ${num(f['errors'])} | ${num(f['relayIdleRssMiB'])} → ${num(f['relayRssMiB'])} | ${num(f['relayCpuPct'])} | ${num(f['relayCpuMsPerChange'], 2)} | ${num(f['loadCpuPct'])} | ${num(f['cpuStallPct'])} |`,
    ),
  ];
}

/**
 * The issue's load target: {@link RATE_TARGET} changes/s written and
 * delivered to 1,000 connections by one process with delivery p99 under
 * {@link P99_TARGET_MS}; the detail gives the run at the target rate and
 * the highest rate that kept up, each with the relay's CPU per change.
 */
export function judgeRate(r: RelayResults, judge: (target: string, met: boolean, detail: string) => void): void {
  const f0 = r.load[0]?.figures;
  if (!f0 || (f0['devices'] ?? 0) < 1000) return; // a quick run has too few connections to say
  const at = (f: Record<string, number>): string =>
    `${num(f['changesPerSec'])} changes/s written of ${num(f['offeredPerSec'])} offered, delivery p99 ${ms(f['deliveredP99Ms'])} ms, ${num(f['relayCpuMsPerChange'], 2)} ms relay CPU per change, CPU stall ${num(f['cpuStallPct'])} %`;
  const atTarget = r.load.filter((e) => (e.figures['offeredPerSec'] ?? 0) >= RATE_TARGET).map((e) => e.figures);
  const met = atTarget.some((f) => !saturated(f) && (f['changesPerSec'] ?? 0) >= 0.99 * RATE_TARGET);
  const kept = r.load.filter((e) => !saturated(e.figures)).sort((a, b) => (b.figures['offeredPerSec'] ?? 0) - (a.figures['offeredPerSec'] ?? 0))[0]?.figures;
  const detail = [
    atTarget.length ? `at the target rate: ${at(atTarget[0]!)}` : 'the target rate was not run',
    kept ? `highest rate kept up: ${at(kept)}` : 'no rate kept up',
  ].join('; ');
  judge(`relay load: ≥ ${num(RATE_TARGET)} changes/s to ${num(f0['devices'])} connections on one process, delivery p99 < ${P99_TARGET_MS} ms`, met, detail);
}
