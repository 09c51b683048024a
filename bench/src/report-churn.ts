/**
 * The churn table (`--only churn`): Kith after snapshot and compaction
 * against Yjs with its GC on, on the same final state; and which figures
 * Kith wins. The issue sets no target here, only the comparison.
 * @module
 */
import { num, ms } from './report-format.js';
import type { Entry } from './series.js';

/** The churn section's results: `n` records each updated `updates` times. */
export interface ChurnResults {
  readonly n: number;
  readonly updates: number;
  readonly kith?: Entry;
  readonly yjs?: Entry;
}

/** Lower is better for every compared figure: [label, key]. */
const COMPARED = [
  ['remote bytes', 'remoteBytes'],
  ['local bytes (the device that churned)', 'localBytes'],
  ['new-device bootstrap ms', 'bootstrapMs'],
  ['new-device bootstrap bytes', 'bootstrapBytes'],
  ['new-device bootstrap peak RSS', 'bootstrapRssMiB'],
] as const;

/** The churn section's table and comparison lines. */
export function churnTables(r: ChurnResults): string[] {
  const count = r.n.toLocaleString('en-US');
  const changes = (r.n * r.updates).toLocaleString('en-US');
  const out = [
    '',
    `### Churn, ${count} records × ${r.updates} updates (${changes} changes), then Kith snapshot + compaction / Yjs GC`,
    '',
    '| contender | bootstrap runs | churn changes/s | remote bytes before compaction (objects) | remote bytes after (objects) | local bytes: churned device / new device | new-device bootstrap ms | bootstrap bytes | bootstrap requests | bootstrap peak RSS MiB |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  const k = r.kith?.figures;
  const y = r.yjs?.figures;
  if (k && r.kith)
    out.push(
      `| kith | ${r.kith.runs} | ${num(k['changesPerSec'])} | ${num(k['historyRemoteBytes'])} (${num(k['historyRemoteObjects'])}) | ${num(k['remoteBytes'])} (${num(k['remoteObjects'])}) | ${num(k['localBytes'])} / ${num(k['bootstrapLocalBytes'])} | ${ms(k['bootstrapMs'])} | ${num(k['bootstrapBytes'])} | ${num(k['bootstrapRequests'])} | ${num(k['bootstrapRssMiB'])} |`,
    );
  if (y && r.yjs)
    out.push(
      `| yjs (GC on) | ${r.yjs.runs} | ${num(y['changesPerSec'])} | – | ${num(y['remoteBytes'])} (1 document) | ${num(y['localBytes'])} / ${num(y['localBytes'])} | ${ms(y['bootstrapMs'])} | ${num(y['bootstrapBytes'])} | 1 | ${num(y['bootstrapRssMiB'])} |`,
    );
  if (k)
    out.push(
      '',
      `Kith, after the churn: snapshot ${ms(k['snapshotMs'])} ms (${num(k['snapshotUploadedBytes'])} bytes uploaded, RSS up to ${num(k['snapshotRssMiB'])} MiB while it ran), compaction ${ms(k['compactMs'])} ms (${num(k['compactDeleted'])} objects deleted); churning took ${ms(k['churnMs'])} ms (one batch and one push per round), peak RSS ${num(k['churnRssMiB'])} MiB. Its local bytes include the history the default policy keeps (90 days).`,
    );
  if (k && y) {
    const wins = COMPARED.filter(([, key]) => k[key] !== undefined && y[key] !== undefined && k[key] < y[key]).map(
      ([label, key]) => `${label} (${num(y[key]! / k[key]!, 2)}× less)`,
    );
    const losses = COMPARED.filter(([, key]) => k[key] !== undefined && y[key] !== undefined && k[key] >= y[key]).map(
      ([label, key]) => `${label} (${num(k[key]! / y[key]!, 2)}× more)`,
    );
    out.push(`Kith beats Yjs on: ${wins.length ? wins.join(', ') : 'none'}; not on: ${losses.length ? losses.join(', ') : 'none'}.`);
  }
  return out;
}
