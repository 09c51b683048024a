/**
 * `npm run bench [-- --quick] [-- --only kith,yjs] [-- --runs R] [-- --out FILE]`:
 * Kith against Yjs, Automerge and the physical floors, every measurement
 * in its own child process, medians over several runs each after an
 * in-process warm-up. Prints a table and writes bench/results.json.
 * @module
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { KithError } from '@kith/core';
import { measureCliStart } from './cli-start.js';
import type { Figures } from './measure.js';
import { parseOptions, type Section } from './options.js';
import { measureRelay } from './relay-runs.js';
import { report, type Results } from './report.js';
import { medians, Scratch, series, task, type Entry } from './series.js';

const opts = (() => {
  try {
    return parseOptions(process.argv.slice(2), fileURLToPath(new URL('../results.json', import.meta.url)));
  } catch (e) {
    if (!(e instanceof KithError)) throw e;
    process.stderr.write(`${e.code}: ${e.message}\n${e.hint ?? ''}\n`);
    process.exit(2);
  }
})();
const scratch = new Scratch(tmpdir());
const results: Results = {
  machine: {
    cpu: cpus()[0]?.model ?? 'unknown',
    cpus: cpus().length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  },
  mode: opts.quick ? 'quick' : 'full',
  command: [
    'npm run bench',
    ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2).filter((a, i, all) => a !== '--out' && all[i - 1] !== '--out')] : []),
  ].join(' '),
  date: new Date().toISOString(),
  bootstrap: {},
  notes: [],
  failures: [],
};

/** Measures one section unless `--only` left it out; a failure is recorded and the run goes on. */
function section(name: Section, label: string, measure: () => Entry): Entry | undefined {
  if (!opts.only.has(name)) return undefined;
  process.stderr.write(`${label}\n`);
  try {
    return measure();
  } catch (e) {
    const message = `${label}: ${(e as Error).message}`;
    process.stderr.write(`  FAILED ${message}\n`);
    results.failures.push(message);
    return undefined;
  }
}

/** How {@link prepared} runs: its label, how many runs, and what each run does around the measured one. */
interface PreparedRuns {
  readonly label?: string;
  readonly runs?: number;
  /** Run `i` (from 1): calls `measure` once and returns its figures (default: just that). */
  readonly around?: (i: number, measure: () => Figures) => Figures;
}

/**
 * A contender whose prep is made once and read (`copy` false) or copied
 * (`copy` true) by each run of `measured` (default `sync`: bootstrap, then incremental).
 */
function prepared(name: Section, n: number, copy: boolean, measured = 'sync', o: PreparedRuns = {}): Entry | undefined {
  return section(name, o.label ?? `${name}, ${n.toLocaleString('en-US')} records`, () => {
    const prep = scratch.dir();
    const spec = `${name}.${measured}`;
    const measure = (): Figures => (copy ? scratch.use((d) => task(spec, n, d), prep) : task(spec, n, prep));
    try {
      return series(
        name,
        o.runs ?? opts.runs(name, n),
        () => task(`${name}.prep`, n, prep),
        (i) => (o.around ? o.around(i, measure) : measure()),
      );
    } finally {
      scratch.drop(prep);
    }
  });
}

/** A section whose every run starts in an empty directory. */
function fresh(name: Section, label: string, n: number, run: (dir: string, i: number) => Figures): Entry | undefined {
  return section(name, label, () =>
    series(
      name,
      opts.runs(name, n),
      () => ({}),
      (i) => scratch.use((d) => run(d, i)),
    ),
  );
}

/**
 * The bootstrap from a snapshot and the floors, run for run: run i of each is measured next to the other
 * (the order alternating), so that a ratio this close to its target (1.3×) compares two medians of the
 * same minutes of a shared machine, as the batched-writes ratio compares one moment's. Measured apart
 * (the floors once the other sections were done), a minute of host contention that slowed one section
 * and not the other moved the ratio by 0.2 or more. Each run is still its own process: nothing is shared.
 */
function snapshotWithFloors(n: number, floorRun: (dir: string) => Figures): [Entry | undefined, Entry | undefined] {
  const floorSamples: Figures[] = [];
  const floor = (): void => void floorSamples.push(scratch.use(floorRun));
  const snapshot = prepared('snapshot', n, true, 'bootstrap', {
    label: `snapshot and floors, ${n.toLocaleString('en-US')} records, run for run`,
    runs: Math.max(opts.runs('snapshot', n), opts.runs('floors', n)),
    around: (i, measure) => {
      if (i % 2 === 1) floor();
      const figures = measure();
      if (i % 2 === 0) floor();
      return figures;
    },
  });
  const floors =
    floorSamples.length === 0 ? undefined : { runs: floorSamples.length, figures: medians(floorSamples), samples: floorSamples, besideSnapshot: true };
  return [snapshot, floors];
}

/**
 * Automerge 3.5 edits a freshly loaded document in time superlinear in the
 * edits (1,000 edits on a loaded 10,000-record document take tens of
 * seconds here; at 100,000 its WASM module dies), so above this size it
 * is measured on bootstrap only.
 */
const AUTOMERGE_INCREMENTAL_LIMIT = 50_000;

try {
  for (const n of opts.sizes) {
    if (n >= AUTOMERGE_INCREMENTAL_LIMIT && opts.only.has('automerge'))
      results.notes.push(
        `Automerge at ${n.toLocaleString('en-US')} records: bootstrap only. Editing a freshly loaded document is superlinear in Automerge 3.5 (1,000 edits on a loaded 10,000-record document take tens of seconds here) and at this size its WASM module terminates.`,
      );
    const floorRun = (d: string): Figures => ({ ...task('floors.insert', n, d), ...task('floors.crypto', n, d) });
    const kith = prepared('kith', n, true);
    // Beside the full replay: A ends its prep with vault.snapshot(), B bootstraps from it (bootstrap only), each run
    // beside a run of the floors when both sections are measured (see snapshotWithFloors).
    const [snapshot, floors] =
      opts.only.has('snapshot') && opts.only.has('floors')
        ? snapshotWithFloors(n, floorRun)
        : [prepared('snapshot', n, true, 'bootstrap'), fresh('floors', `floors, ${n.toLocaleString('en-US')} records`, n, floorRun)];
    const entries = {
      kith,
      snapshot,
      yjs: prepared('yjs', n, false),
      automerge: n >= AUTOMERGE_INCREMENTAL_LIMIT ? prepared('automerge', n, false, 'bootstrap') : prepared('automerge', n, false),
      floors,
    };
    results.bootstrap[n] = Object.fromEntries(Object.entries(entries).filter((e): e is [string, Entry] => e[1] !== undefined));
  }
  const local = fresh('local', `local writes, ${opts.localN.toLocaleString('en-US')} records`, opts.localN, (d) => task('kith.local', opts.localN, d));
  if (local) results.local = { n: opts.localN, ...local };
  const spacesN = opts.sizes[0]!;
  const spaces = fresh('spaces', `spaces, 5 people × 2 devices, ${spacesN.toLocaleString('en-US')} records`, spacesN, (d) => task('spaces.run', spacesN, d));
  if (spaces) results.spaces = { n: spacesN, ...spaces };
  const scale = section('scale', `scale, ${opts.scaleN.toLocaleString('en-US')} records`, () =>
    series(
      'scale',
      opts.runs('scale', opts.scaleN),
      () => ({}),
      () => scratch.use((d) => ({ ...task('scale.prep', opts.scaleN, d), ...task('scale.open', opts.scaleN, d) })),
    ),
  );
  if (scale) results.scale = { n: opts.scaleN, ...scale };
  if (opts.only.has('churn')) {
    const { UPDATES } = await import('./tasks/churn.js');
    const n = opts.churnN;
    // Each contender churns once (its figures kept), then a new device bootstraps from a copy of the result, each run.
    const churned = (who: 'kith' | 'yjs'): Entry | undefined =>
      section('churn', `churn, ${who}, ${n.toLocaleString('en-US')} records × ${UPDATES} updates`, () => {
        const prep = scratch.dir();
        try {
          return series(
            `churn ${who}`,
            opts.runs('churn', n),
            () => task(`churn.${who}Churn`, n, prep),
            () => scratch.use((d) => task(`churn.${who}Bootstrap`, n, d), prep),
          );
        } finally {
          scratch.drop(prep);
        }
      });
    const [kith, yjs] = [churned('kith'), churned('yjs')];
    results.churn = { n, updates: UPDATES, ...(kith ? { kith } : {}), ...(yjs ? { yjs } : {}) };
  }

  if (opts.only.has('remotes')) {
    const n = opts.remotesN;
    const through = (env: (i: number) => Record<string, string>) => (d: string, i: number) => ({
      ...task('kith.prep', n, d, env(i)),
      ...task('kith.sync', n, d, env(i)),
    });
    const folder = fresh(
      'remotes',
      `folder remote, ${n.toLocaleString('en-US')} records`,
      n,
      through(() => ({})),
    );
    const { startS3rver } = await import('@kith/s3/testing');
    const s3 = await startS3rver();
    try {
      const bucket = await s3.bucket();
      const s3Entry = fresh(
        'remotes',
        `S3 remote (s3rver), ${n.toLocaleString('en-US')} records`,
        n,
        through((i) => ({ KITH_BENCH_REMOTE: s3.url(bucket, `run${i}`), KITH_BENCH_REMOTE_WARM: s3.url(bucket, `warm${i}`) })),
      );
      results.remotes = { n, ...(folder ? { folder } : {}), ...(s3Entry ? { s3: s3Entry } : {}) };
    } finally {
      await s3.stop();
    }
  }

  if (opts.only.has('blobs')) {
    const mib = opts.blobMiB;
    const { startS3rver } = await import('@kith/s3/testing');
    const s3 = await startS3rver();
    try {
      const bucket = await s3.bucket();
      const s3Env = (i: number) => ({ KITH_BENCH_BLOB_S3: s3.url(bucket, `blob${i}`), KITH_BENCH_BLOB_S3_WARM: s3.url(bucket, `blobwarm${i}`) });
      const blobs = fresh('blobs', `blobs, ${mib} MiB`, mib, (d, i) => {
        task('blobs.prep', mib, d);
        const figures = { ...task('blobs.floor', mib, d), ...task('blobs.kith', mib, d), ...task('blobs.restic', mib, d), ...task('blobs.bound', mib, d) };
        return { ...figures, ...task('blobs.s3', mib, d, s3Env(i)) };
      });
      if (blobs) results.blobs = { mib, ...blobs };
    } finally {
      await s3.stop();
    }
  }

  if (opts.only.has('cli')) {
    process.stderr.write('CLI start\n');
    try {
      results.cli = scratch.use((d) => measureCliStart(d, opts.runs('cli', 0)));
    } catch (e) {
      process.stderr.write(`  FAILED CLI start: ${(e as Error).message}\n`);
      results.failures.push(`CLI start: ${(e as Error).message}`);
    }
  }

  if (opts.only.has('relay'))
    results.relay = await measureRelay(
      opts.relay,
      (label, n, run) => fresh('relay', label, n, (d) => run(d)),
      (m) => void results.failures.push(m),
    );
  if (opts.only.has('browser')) {
    process.stderr.write('browser (headless Chromium)\n');
    try {
      // Loaded only here: it brings playwright-core and esbuild, which no other section needs.
      const { measureBrowser } = await import('./browser/measure.js');
      results.browser = await measureBrowser(opts.quick ? 1000 : 10_000, opts.runs('browser', 0), (l) => void process.stderr.write(`${l}\n`));
    } catch (e) {
      process.stderr.write(`  FAILED browser: ${(e as Error).message}\n`);
      results.failures.push(`browser: ${(e as Error).message}`);
    }
  }
  if (opts.only.has('bundle') && !opts.only.has('browser')) {
    process.stderr.write('bundle sizes (esbuild)\n');
    try {
      const { bundleSizes } = await import('./browser/bundle-size.js');
      results.bundle = await bundleSizes();
    } catch (e) {
      process.stderr.write(`  FAILED bundle: ${(e as Error).message}\n`);
      results.failures.push(`bundle: ${(e as Error).message}`);
    }
  }
} finally {
  scratch.dispose();
}

const previous = (() => {
  try {
    return JSON.parse(readFileSync(opts.out, 'utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
})();
// A bundle-only run replaces the bundle figures of the last browser run (its bootstrap and tabs stay, dated `browserDate`).
const bundleOnly = opts.only.size === 1 && results.bundle !== undefined;
const lastBrowser = previous['browser'] as Results['browser'];
if (bundleOnly && lastBrowser) {
  results.browser = { ...lastBrowser, bundle: results.bundle! };
  results.notes.push(`Browser bootstrap and tabs: the Chromium run of ${String(previous['browserDate'])}; bundle sizes: this run.`);
}
const { table, targets } = report(results);
// The fault soak (`npm run soak -- --record`) and the opt-in browser section record their own parts of this file: a run
// keeps them. A browser-only run is merged into the file as it was, so the other sections' last run stays.
const kept = { soak: previous['soak'], browser: previous['browser'] };
const written = bundleOnly
  ? {
      ...previous,
      ...(results.browser ? { browser: results.browser, browserTable: table, browserTargets: targets } : { bundle: results.bundle }),
      bundleDate: results.date,
    }
  : opts.only.size === 1 && opts.only.has('browser')
    ? { ...previous, browser: results.browser, browserTable: table, browserTargets: targets, browserDate: results.date }
    : { ...results, targets, table, ...Object.fromEntries(Object.entries(kept).filter(([k, v]) => v !== undefined && !(k in results))) };
writeFileSync(opts.out, JSON.stringify(written, null, 2) + '\n');
process.stdout.write(table + '\n');
if (results.failures.length) process.exitCode = 1;
