/**
 * `npm run bench [-- --quick] [-- --out FILE]`: every contender and floor,
 * each measurement in its own child process, medians over several runs
 * after a warm-up; prints a table and writes bench/results.json.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const outFile = args.includes('--out') ? args[args.indexOf('--out') + 1]! : fileURLToPath(new URL('../results.json', import.meta.url));
const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));
const cfg = quick
  ? { sizes: [1000], runs: 1, localN: 2000, s3N: 1000, blobMiB: 32 }
  : { sizes: [10_000, 100_000], runs: 3, localN: 100_000, s3N: 10_000, blobMiB: 1024 };

type Row = Record<string, number>;

function task(name: string, n: number, dir: string, env: Record<string, string> = {}): Row {
  const r = spawnSync(process.execPath, [WORKER, name, String(n), dir], { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`bench task ${name} (${n}) failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Row;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
/** Runs `chain` `runs` times after one discarded warm-up, each in a fresh directory; medians per field. A failure is recorded, not fatal. */
function measure(label: string, runs: number, chain: (dir: string) => Record<string, Row>): Record<string, Row> {
  try {
    return measureOrThrow(label, runs, chain);
  } catch (e) {
    process.stderr.write(`  ${label}: FAILED: ${String((e as Error).message).split('\n').slice(0, 3).join(' ')}\n`);
    failures.push(label);
    return {};
  }
}
const failures: string[] = [];

function measureOrThrow(label: string, runs: number, chain: (dir: string) => Record<string, Row>): Record<string, Row> {
  const samples: Record<string, Row>[] = [];
  for (let i = 0; i <= runs; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'kith-bench-'));
    try {
      const r = chain(dir);
      if (i > 0) samples.push(r); // the first run warms the disk cache and is discarded
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    process.stderr.write(`  ${label}: run ${i === 0 ? 'warm-up' : i}/${runs} done\n`);
  }
  const out: Record<string, Row> = {};
  for (const step of Object.keys(samples[0]!)) {
    out[step] = {};
    for (const field of Object.keys(samples[0]![step]!)) out[step][field] = median(samples.map((s) => s[step]![field]!));
  }
  return out;
}

const results: Record<string, unknown> = {
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), freeGiB: Math.round(freemem() / 2 ** 30), node: process.version },
  mode: quick ? 'quick' : 'full',
  runs: cfg.runs,
  date: new Date().toISOString(),
};
const bootstrap: Record<number, Record<string, Record<string, Row>>> = {};

for (const n of cfg.sizes) {
  process.stderr.write(`N = ${n}\n`);
  bootstrap[n] = {
    kith: measure(`kith ${n}`, cfg.runs, (d) => ({ push: task('prep-kith', n, d), bootstrap: task('kith-bootstrap', n, d), prep: task('prep-kith-incremental', n, d), incremental: task('kith-incremental', n, d) })),
    yjs: measure(`yjs ${n}`, cfg.runs, (d) => ({ prep: task('prep-yjs', n, d), bootstrap: task('yjs-bootstrap', n, d), incremental: task('yjs-incremental', n, d) })),
    automerge: measure(`automerge ${n}`, cfg.runs, (d) => ({ prep: task('prep-automerge', n, d), bootstrap: task('automerge-bootstrap', n, d), incremental: task('automerge-incremental', n, d) })),
    floor: measure(`floors ${n}`, cfg.runs, (d) => ({ insert: task('floor-insert', n, d), crypto: task('floor-crypto', n, d) })),
  };
}
results['bootstrap'] = bootstrap;

process.stderr.write('local writes\n');
results['local'] = measure(`local ${cfg.localN}`, cfg.runs, (d) => ({ local: task('kith-local', cfg.localN, d) }))['local'];

process.stderr.write('S3 vs folder\n');
const { startS3rver } = await import('@kith/s3/testing');
const s3 = await startS3rver();
try {
  const bucket = await s3.bucket();
  let k = 0;
  results['remotes'] = {
    folder: measure('folder', cfg.runs, (d) => ({ push: task('prep-kith', cfg.s3N, d), bootstrap: task('kith-bootstrap', cfg.s3N, d) })),
    s3: measure('s3rver', cfg.runs, (d) => {
      const env = { KITH_BENCH_REMOTE: s3.url(bucket, `run${++k}`) };
      return { push: task('prep-kith', cfg.s3N, d, env), bootstrap: task('kith-bootstrap', cfg.s3N, d, env) };
    }),
  };
} finally {
  await s3.stop();
}

process.stderr.write(`blobs ${cfg.blobMiB} MiB\n`);
results['blobs'] = measure(`blobs`, quick ? 1 : 2, (d) => ({ prep: task('prep-blob', cfg.blobMiB, d), floor: task('blob-floor', cfg.blobMiB, d), kith: task('blob-roundtrip', cfg.blobMiB, d) }));

// ---- table and targets
const f = (x: number | undefined, digits = 0): string => (x === undefined ? '–' : x.toLocaleString('en-US', { maximumFractionDigits: digits }));
const lines: string[] = [];
const targets: Record<string, boolean> = {};
lines.push(`Kith benchmarks (${quick ? 'quick' : 'full'} run, ${cfg.runs} run(s) after a warm-up, medians) — ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`);
for (const n of cfg.sizes) {
  const b = bootstrap[n]!;
  const floor = b['floor']!['insert']!['ms']! + b['floor']!['crypto']!['decryptMs']!;
  lines.push('', `Bootstrap and incremental, N = ${f(n)}`, '| contender | bootstrap ms | bytes | peak RSS MiB | incremental ms | incremental bytes |', '|---|---|---|---|---|---|');
  for (const c of ['kith', 'yjs', 'automerge']) {
    const r = b[c]!;
    if (!r['bootstrap']) {
      lines.push(`| ${c} | failed | | | | |`);
      continue;
    }
    lines.push(`| ${c} | ${f(r['bootstrap']['ms'])} | ${f(r['bootstrap']['bytes'])} | ${f(r['bootstrap']['rssMiB'])} | ${f(r['incremental']?.['ms'], 1)} | ${f(r['incremental']?.['bytes'])} |`);
  }
  lines.push(`| floor: SQLite insert + decrypt/inflate/parse | ${f(floor)} | ${f(b['floor']!['crypto']!['bytes'])} | ${f(Math.max(b['floor']!['insert']!['rssMiB']!, b['floor']!['crypto']!['rssMiB']!))} | | |`);
  const kb = b['kith']!['bootstrap']!;
  lines.push(`Kith bootstrap = ${f(kb['ms']! / floor, 2)} × floor; Kith push of ${f(n)} records ${f(b['kith']!['push']!['pushMs'])} ms`);
  targets[`N=${n}: bootstrap within 2x floor`] = kb['ms']! <= 2 * floor;
  const peer = (c: string): number => b[c]?.['bootstrap']?.['ms'] ?? Infinity;
  targets[`N=${n}: bootstrap faster than Yjs and Automerge`] = kb['ms']! < peer('yjs') && kb['ms']! < peer('automerge');
  targets[`N=${n}: bootstrap bytes <= Yjs update`] = kb['bytes']! <= (b['yjs']?.['bootstrap']?.['bytes'] ?? Infinity);
  if (n >= 100_000) targets[`N=${n}: bootstrap peak RSS < 300 MiB`] = kb['rssMiB']! < 300;
}
const l = results['local'] as Row;
lines.push('', `Local writes on a ${f(cfg.localN)}-record vault: batched ${f(l['batchPerSec'])} records/s; put p50 ${f(l['putP50'], 2)} ms, p99 ${f(l['putP99'], 2)} ms; get p50 ${f(l['getP50'], 3)} ms; list (filter, 50) p50 ${f(l['listP50'], 2)} ms`);
targets['batched writes >= 100,000 records/s'] = l['batchPerSec']! >= 100_000;
targets['single put p50 < 1 ms'] = l['putP50']! < 1;
const rem = results['remotes'] as Record<string, Record<string, Row>>;
lines.push('', `Remotes, ${f(cfg.s3N)} records: push then bootstrap of a new device`, '| remote | push ms | push requests | bytes sent | bootstrap ms | bootstrap requests | bytes received |', '|---|---|---|---|---|---|---|');
for (const r of ['folder', 's3']) {
  const x = rem[r]!;
  lines.push(`| ${r === 's3' ? 's3 (s3rver)' : r} | ${f(x['push']!['pushMs'])} | ${f(x['push']!['requests'])} | ${f(x['push']!['bytesSent'])} | ${f(x['bootstrap']!['ms'])} | ${f(x['bootstrap']!['requests'])} | ${f(x['bootstrap']!['bytes'])} |`);
}
const bl = results['blobs'] as Record<string, Row>;
lines.push('', `Blobs, ${f(cfg.blobMiB)} MiB file: attach ${f(bl['kith']!['putMiBs'], 1)} MiB/s, fetch ${f(bl['kith']!['getMiBs'], 1)} MiB/s, floor (copy + AES-GCM) ${f(bl['floor']!['mibPerSec'], 1)} MiB/s; peak RSS ${f(bl['kith']!['rssMiB'])} MiB`);
targets['blob throughput >= half the floor'] = Math.min(bl['kith']!['putMiBs']!, bl['kith']!['getMiBs']!) >= bl['floor']!['mibPerSec']! / 2;
targets['blob peak RSS < 200 MiB'] = bl['kith']!['rssMiB']! < 200;
lines.push('', 'Targets:', ...Object.entries(targets).map(([k, v]) => `- ${v ? 'met' : 'NOT met'}: ${k}`));
results['targets'] = targets;
results['failures'] = failures;
if (failures.length) lines.push('', `Failed measurements: ${failures.join(', ')}`);
const table = lines.join('\n');
results['table'] = table;
writeFileSync(outFile, JSON.stringify(results, null, 2) + '\n');
process.stdout.write(table + '\n');
