/**
 * The results of a run, the table printed from them, and which targets they meet.
 * @module
 */
import type { RelayResults } from './relay-runs.js';
import type { BrowserResults } from './browser/measure.js';
import { browserTables, bundleTables } from './browser/report.js';
import { cliStartTables, type CliStartResults } from './cli-start.js';
import { relayTables } from './report-relay.js';
import { snapshotLines } from './report-snapshot.js';
import { spacesLines } from './report-spaces.js';
import { churnTables, type ChurnResults } from './report-churn.js';
import { floorMs, num, ms } from './report-format.js';
import type { Entry } from './series.js';

/** Everything a run measured, as written to results.json (with `targets` and `table` added). */
export interface Results {
  machine: { cpu: string; cpus: number; memGiB: number; node: string; platform: string };
  mode: 'quick' | 'full';
  command: string;
  date: string;
  /** Per record count: kith, snapshot (Kith bootstrapping from a snapshot), yjs, automerge, floors. */
  bootstrap: Record<number, Record<string, Entry>>;
  local?: Entry & { n: number };
  /** The opt-in million-record vault (`--only scale`). */
  scale?: Entry & { n: number };
  /** The opt-in churn section (`--only churn`). */
  churn?: ChurnResults;
  remotes?: { n: number; folder?: Entry; s3?: Entry };
  blobs?: Entry & { mib: number };
  relay?: RelayResults;
  cli?: CliStartResults;
  /** The opt-in browser section (`--only browser`). */
  browser?: BrowserResults;
  /** The browser section's bundle sizes measured alone (`--only bundle`). */
  bundle?: BrowserResults['bundle'];
  /** The opt-in shared-space section (`--only spaces`). */
  spaces?: Entry & { n: number };
  /** Caveats printed under the tables. */
  notes: string[];
  failures: string[];
}

/** One target from the issue, and whether this run met it. */
export interface Target {
  readonly target: string;
  readonly met: boolean;
  /** The figures it was judged on. */
  readonly detail: string;
}

/** Renders the run as Markdown tables and judges the issue's targets. */
export function report(r: Results): { table: string; targets: Target[] } {
  const m = r.machine;
  const out: string[] = [
    `Kith benchmarks — ${r.mode} run (\`${r.command}\`), medians of the runs shown, each after an in-process warm-up`,
    `Machine: ${m.cpus} × ${m.cpu}, ${m.memGiB} GiB RAM, Node ${m.node}, ${m.platform}; ${r.date.slice(0, 10)}`,
  ];
  const targets: Target[] = [];
  const judge = (target: string, met: boolean, detail: string): void => void targets.push({ target, met, detail });

  for (const [n, entries] of Object.entries(r.bootstrap)) {
    if (Object.keys(entries).length === 0) continue; // --only left every contender out
    const count = Number(n).toLocaleString('en-US');
    out.push(
      '',
      `### Bootstrap and incremental sync, ${count} records`,
      '',
      '| contender | runs | bootstrap ms | bootstrap bytes | bootstrap peak RSS MiB | incremental ms (1,000 edits) | incremental bytes |',
      '|---|--:|--:|--:|--:|--:|--:|',
    );
    for (const c of ['kith', 'snapshot', 'yjs', 'automerge']) {
      const e = entries[c];
      if (!e) continue;
      const f = e.figures;
      out.push(
        `| ${c === 'snapshot' ? 'kith from snapshot' : c} | ${e.runs} | ${ms(f['bootstrapMs'])} | ${num(f['bootstrapBytes'])} | ${num(f['bootstrapRssMiB'])} | ${ms(f['incrementalMs'])} | ${num(f['incrementalBytes'])} |`,
      );
    }
    const fl = entries['floors'];
    const floor = fl ? floorMs(fl.figures) : undefined;
    if (fl) {
      const f = fl.figures;
      out.push(
        `| floor: SQLite insert + decrypt | ${fl.runs} | ${ms(floor)} | ${num(f['sealedBytes'])} | ${num(Math.max(f['insertRssMiB'] ?? 0, f['cryptoRssMiB'] ?? 0))} | | |`,
      );
      out.push(
        '',
        `Floors: SQLite insert of ${count} rows in one transaction ${ms(f['insertMs'])} ms; JSON → deflate-raw → AES-256-GCM ${ms(f['encryptMs'])} ms, and back ${ms(f['decryptMs'])} ms.`,
      );
    }
    const k = entries['kith']?.figures;
    if (k) {
      out.push(
        `Kith device A: batch of ${count} puts ${ms(k['batchMs'])} ms, push ${ms(k['pushMs'])} ms (${num(k['pushBytes'])} bytes, ${num(k['pushRequests'])} requests); device B bootstrap ${num(k['bootstrapRequests'])} requests, catch-up ${num(k['incrementalRequests'])}.`,
      );
      const kb = k['bootstrapMs'];
      if (kb !== undefined && floor !== undefined) {
        out.push(`Kith bootstrap = ${num(kb / floor, 2)} × the floor.`);
        judge(`${count} records: bootstrap within 2× the floor`, kb <= 2 * floor, `${ms(kb)} ms vs floor ${ms(floor)} ms (${num(kb / floor, 2)}×)`);
      }
      const peers = ['yjs', 'automerge']
        .map((c) => [c, entries[c]?.figures['bootstrapMs']] as const)
        .filter((p): p is readonly [string, number] => p[1] !== undefined);
      if (kb !== undefined && peers.length === 2)
        judge(
          `${count} records: bootstrap faster than Yjs and Automerge`,
          peers.every(([, t]) => kb < t),
          `Kith ${ms(kb)} ms; ${peers.map(([c, t]) => `${c} ${ms(t)} ms`).join(', ')}`,
        );
      const yBytes = entries['yjs']?.figures['bootstrapBytes'];
      if (k['bootstrapBytes'] !== undefined && yBytes !== undefined)
        judge(`${count} records: bootstrap bytes ≤ Yjs update`, k['bootstrapBytes'] <= yBytes, `${num(k['bootstrapBytes'])} vs ${num(yBytes)} bytes`);
      if (k['bootstrapRssMiB'] !== undefined)
        judge(
          `${count} records: bootstrap peak RSS < 300 MB`,
          k['bootstrapRssMiB'] * 1.048576 < 300,
          `${num(k['bootstrapRssMiB'])} MiB = ${num(k['bootstrapRssMiB'] * 1.048576)} MB`,
        );
    }
    out.push(...snapshotLines(Number(n), entries, floor, judge));
  }

  if (r.local) {
    const f = r.local.figures;
    out.push(
      '',
      `### Local writes and reads, ${r.local.n.toLocaleString('en-US')}-record vault (${r.local.runs} runs)`,
      '',
      '| batched puts, records/s | put p50 ms | put p99 ms | get p50 ms | get p99 ms | list (filter, limit 50) p50 ms | list p99 ms |',
      '|--:|--:|--:|--:|--:|--:|--:|',
    );
    out.push(
      `| ${num(f['batchPerSec'])} | ${num(f['putP50'], 3)} | ${num(f['putP99'], 3)} | ${num(f['getP50'], 3)} | ${num(f['getP99'], 3)} | ${num(f['listP50'], 3)} | ${num(f['listP99'], 3)} |`,
    );
    const batch = f['batchPerSec'];
    const floor = f['floorInsertPerSec'];
    if (batch !== undefined && floor !== undefined) {
      out.push(
        '',
        `Floor in the same process right after: SQLite insert of the same ${r.local.n.toLocaleString('en-US')} rows, ${num(floor)} rows/s; Kith batch = ${num(batch / floor, 2)} × the floor.`,
      );
      const settled = f['batchSettledPerSec'];
      if (settled !== undefined)
        out.push(
          `The batch returns once committed; its WAL pages are then copied into the database file on the store's checkpoint thread while the puts below run. Until that copy ends: ${num(settled)} records/s, ${num(settled / floor, 2)} × the floor (whose single connection copies its pages inside its commit).`,
        );
      const [batchCpu, floorCpu] = [f['batchCpuMs'], f['floorCpuMs']];
      if (batchCpu !== undefined && floorCpu !== undefined)
        out.push(
          `CPU time of the process (every thread): batch ${ms(batchCpu)} ms, floor ${ms(floorCpu)} ms; by CPU time the batch is ${num(floorCpu / batchCpu, 2)} × the floor (waiting for a core is left out).`,
        );
      if (f['putCpuP99'] !== undefined)
        out.push(`Single puts by CPU time (every thread): p99 ${num(f['putCpuP99'], 3)} ms (the wall-clock p99 above includes waiting for a core).`);
      if (f['loadAvg'] !== undefined)
        out.push(
          `Load average at the end of the runs: ${num(f['loadAvg'], 1)} on ${r.machine.cpus} cores (above the core count, wall-clock tails include waiting for a core).`,
        );
      judge(
        'batched local writes ≥ ½ the SQLite insert floor (same rows, same run)',
        batch >= floor / 2,
        `${num(batch)} vs floor ${num(floor)} records/s (${num(batch / floor, 2)}×)`,
      );
    }
    if (f['putP99'] !== undefined) judge(`single put p99 < 1 ms at ${r.local.n.toLocaleString('en-US')} records`, f['putP99'] < 1, `${num(f['putP99'], 3)} ms`);
  }

  out.push(...spacesLines(r.spaces, r.spaces ? r.bootstrap[r.spaces.n]?.['kith']?.figures['bootstrapMs'] : undefined));

  if (r.scale) {
    const f = r.scale.figures;
    out.push(
      '',
      `### Scale, ${r.scale.n.toLocaleString('en-US')}-record vault (${r.scale.runs} run, opt-in)`,
      '',
      '| open ms | first page ms | next page ms | filter page ms | selective filter (scan) ms | put p50/p99 ms | get p50/p99 ms | list p50/p99 ms | push of 600 changes ms | B open ms | B pull ms | peak RSS MiB |',
      '|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    );
    out.push(
      `| ${ms(f['scaleOpenMs'])} | ${num(f['scalePageMs'], 1)} | ${num(f['scaleNextPageMs'], 1)} | ${num(f['scaleFilterMs'], 1)} | ${ms(f['scaleScanMs'])} | ${num(f['scalePutP50'], 3)} / ${num(f['scalePutP99'], 3)} | ${num(f['scaleGetP50'], 3)} / ${num(f['scaleGetP99'], 3)} | ${num(f['scaleListP50'], 3)} / ${num(f['scaleListP99'], 3)} | ${ms(f['scalePushMs'])} | ${ms(f['scaleOpenBMs'])} | ${ms(f['scalePullMs'])} | ${num(f['scaleRssMiB'])} |`,
    );
    if (f['scaleFillPerSec'] !== undefined)
      out.push(
        '',
        `Prep (untimed in the table): filled in batches of 10,000 at ${num(f['scaleFillPerSec'])} records/s, pushed, and bootstrapped on device B.${f['scaleLoadAvg'] === undefined ? '' : ` Load average at the end of the measured run: ${num(f['scaleLoadAvg'], 1)} on ${r.machine.cpus} cores.`}`,
      );
    if (f['scaleRssMiB'] !== undefined)
      judge(
        `${r.scale.n.toLocaleString('en-US')} records: open, list and sync with peak RSS < 300 MB`,
        f['scaleRssMiB'] * 1.048576 < 300,
        `${num(f['scaleRssMiB'])} MiB = ${num(f['scaleRssMiB'] * 1.048576)} MB`,
      );
  }

  if (r.churn) out.push(...churnTables(r.churn));

  if (r.remotes) {
    out.push(
      '',
      `### Remotes, ${r.remotes.n.toLocaleString('en-US')} records: A pushes, B bootstraps, A edits 1,000, B catches up`,
      '',
      '| remote | runs | push ms | push requests | push bytes | bootstrap ms | bootstrap requests | bootstrap bytes | catch-up ms | catch-up requests | catch-up bytes |',
      '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    );
    for (const [name, e] of [
      ['folder', r.remotes.folder],
      ['S3 (s3rver, loopback)', r.remotes.s3],
    ] as const) {
      if (!e) continue;
      const f = e.figures;
      out.push(
        `| ${name} | ${e.runs} | ${ms(f['pushMs'])} | ${num(f['pushRequests'])} | ${num(f['pushBytes'])} | ${ms(f['bootstrapMs'])} | ${num(f['bootstrapRequests'])} | ${num(f['bootstrapBytes'])} | ${ms(f['incrementalMs'])} | ${num(f['incrementalRequests'])} | ${num(f['incrementalBytes'])} |`,
      );
    }
  }

  if (r.blobs) {
    const f = r.blobs.figures;
    out.push(
      '',
      `### Blobs, ${r.blobs.mib} MiB file (${r.blobs.runs} runs)`,
      '',
      '| attach MiB/s | fetch MiB/s | restic backup MiB/s | restic restore MiB/s | floor (copy + AES-GCM) MiB/s | bound attach MiB/s | bound fetch MiB/s | peak RSS MiB |',
      '|--:|--:|--:|--:|--:|--:|--:|--:|',
    );
    out.push(
      `| ${num(f['putMiBs'], 1)} | ${num(f['getMiBs'], 1)} | ${num(f['resticBackupMiBs'], 1)} | ${num(f['resticRestoreMiBs'], 1)} | ${num(f['floorMiBs'], 1)} | ${num(f['boundPutMiBs'], 1)} | ${num(f['boundGetMiBs'], 1)} | ${num(f['blobRssMiB'])} |`,
    );
    if (f['s3PutMiBs'] !== undefined)
      out.push(
        '',
        `Through the S3 remote (s3rver on loopback, the same file): attach ${num(f['s3PutMiBs'], 1)} MiB/s, fetch ${num(f['s3GetMiBs'], 1)} MiB/s (CPU per GiB, this process only: ${num(f['s3PutCpuSPerGiB'], 1)} s and ${num(f['s3GetCpuSPerGiB'], 1)} s).`,
      );
    if (f['resticBackupMiBs'] === undefined) out.push('', 'restic: not measured (not installed, and bench/scripts/peers.sh could not install it).');
    for (const [step, kith, peer, label] of [
      ['attach', f['putMiBs'], f['resticBackupMiBs'], 'restic backup'],
      ['fetch', f['getMiBs'], f['resticRestoreMiBs'], 'restic restore'],
    ] as const) {
      if (kith === undefined) continue;
      const detail = peer === undefined ? 'restic not measured' : `${num(kith, 1)} vs ${label} ${num(peer, 1)} MiB/s (${num(kith / peer, 2)}×)`;
      judge(`blobs: ${step} ≥ ${label}`, peer !== undefined && kith >= peer, detail);
    }
    const floor = f['floorMiBs'];
    for (const [step, kith, bound] of [
      ['attach', f['putMiBs'], f['boundPutMiBs']],
      ['fetch', f['getMiBs'], f['boundGetMiBs']],
    ] as const) {
      if (floor === undefined || kith === undefined) continue;
      const ofBound = bound === undefined ? '' : `; the bound (the design's required work alone) ${num(bound, 1)} MiB/s = ${num(bound / floor, 2)}× the floor`;
      judge(`blobs: ${step} ≥ ½ the floor`, kith >= floor / 2, `${num(kith, 1)} vs floor ${num(floor, 1)} MiB/s (${num(kith / floor, 2)}×)${ofBound}`);
    }
    if (f['blobRssMiB'] !== undefined)
      judge('blobs: peak RSS < 200 MB', f['blobRssMiB'] * 1.048576 < 200, `${num(f['blobRssMiB'])} MiB = ${num(f['blobRssMiB'] * 1.048576)} MB`);
  }

  if (r.relay) out.push(...relayTables(r.relay, judge));
  if (r.cli) out.push(...cliStartTables(r.cli, judge));
  if (r.browser) out.push(...browserTables(r.browser, judge));
  else if (r.bundle) out.push(...bundleTables(r.bundle, judge));

  if (r.notes.length) out.push('', '### Notes', '', ...r.notes.map((n) => `- ${n}`));
  out.push('', '### Targets', '', ...targets.map((t) => `- ${t.met ? 'met' : '**not met**'}: ${t.target} — ${t.detail}`));
  if (r.failures.length) out.push('', '### Failed measurements', '', ...r.failures.map((f) => `- ${f}`));
  return { table: out.join('\n'), targets };
}
