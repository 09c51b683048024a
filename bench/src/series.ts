/**
 * Spawning workers and turning their runs into medians.
 * @module
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, type Figures } from './measure.js';

const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));

/** Medians of a series of runs, and how many runs they are over. */
export interface Entry {
  readonly runs: number;
  /** The prep's figures and the medians of the runs'. */
  readonly figures: Figures;
  /** Every run's figures, to judge the spread. */
  readonly samples: readonly Figures[];
  /** The floors' runs were measured one beside each run of the bootstrap from a snapshot (samples in the same order). */
  readonly besideSnapshot?: boolean;
}

/** Runs `MODULE.TASK` on `n` in a fresh Node process working in `dir`; returns its figures. */
export function task(spec: string, n: number, dir: string, env: Record<string, string> = {}): Figures {
  const r = spawnSync(process.execPath, [WORKER, spec, String(n), dir], { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 16 << 20 });
  if (r.status !== 0) {
    const lines = (r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n');
    throw new Error(`${spec} (${n}) failed: ${lines.find((l) => /^\w*Error\b/.test(l)) ?? lines.at(-1)}`);
  }
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Figures;
}

/** Per-field medians over the samples (fields missing from a sample are skipped). */
export function medians(samples: readonly Figures[]): Figures {
  const out: Figures = {};
  for (const k of new Set(samples.flatMap((s) => Object.keys(s)))) out[k] = median(samples.flatMap((s) => (s[k] === undefined ? [] : [s[k]])));
  return out;
}

/** A scratch directory that lives for the whole benchmark (removed by {@link Scratch.dispose}). */
export class Scratch {
  readonly root: string;
  constructor(parent: string) {
    this.root = mkdtempSync(join(parent, 'kith-bench-'));
  }
  /** A new empty directory, or a copy of `from` (so a run can change state a prep left behind). */
  dir(from?: string): string {
    const d = mkdtempSync(join(this.root, 'r-'));
    if (from) cpSync(from, d, { recursive: true });
    return d;
  }
  /** Removes `dir` and everything in it. */
  drop(dir: string): void {
    rmSync(dir, { recursive: true, force: true });
  }
  /** Runs `fn` in a fresh directory (a copy of `from`, if given) and removes it afterwards. */
  use<T>(fn: (dir: string) => T, from?: string): T {
    const d = this.dir(from);
    try {
      return fn(d);
    } finally {
      this.drop(d);
    }
  }
  /** Removes every directory this scratch made. */
  dispose(): void {
    this.drop(this.root);
  }
}

/**
 * `prep` once (its figures kept as they are), then `runs` measured runs of
 * `run` (each given a run number from 1), the medians merged over the prep's.
 */
export function series(label: string, runs: number, prep: () => Figures, run: (i: number) => Figures): Entry {
  const prepped = prep();
  const samples: Figures[] = [];
  for (let i = 1; i <= runs; i++) {
    samples.push(run(i));
    process.stderr.write(`  ${label}: run ${i}/${runs}\n`);
  }
  return { runs, figures: { ...prepped, ...medians(samples) }, samples };
}
