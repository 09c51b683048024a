/**
 * Timing and memory helpers shared by every benchmark task.
 * @module
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';

/** Named figures from one measurement; every value a number (ms, bytes, MiB, counts). */
export type Figures = Record<string, number>;

/** A task a worker process runs: `n` records (or MiB), working in `dir`. */
export type Task = (n: number, dir: string) => Promise<Figures>;

/** How many records the in-process warm-up uses before the measured run. */
export const WARM_N = 100;

/** Runs `fn` and returns its result with the elapsed wall time in milliseconds. */
export async function time<T>(fn: () => Promise<T> | T): Promise<[T, number]> {
  const t = performance.now();
  const r = await fn();
  return [r, performance.now() - t];
}

/** This process's peak resident set size so far, in MiB (so each child measures only itself). */
export function peakRssMiB(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

/** The `p`-quantile (0..1) of `xs`, nearest rank; NaN for an empty list. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
}

/** The median of `xs`, averaging the middle pair for an even count. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Latencies of `k` sequential calls of `fn`, in milliseconds; with `cpu`, each call's CPU time (every thread) is pushed onto it too. */
export async function latencies(k: number, fn: (i: number) => Promise<unknown>, cpu?: number[]): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < k; i++) {
    const c = cpu && process.cpuUsage();
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
    if (cpu && c) {
      const used = process.cpuUsage(c);
      cpu.push((used.user + used.system) / 1000);
    }
  }
  return out;
}

/** The machine's 1-minute load average, reported beside timings (2 shared cores: 2 is full). */
export const loadAverage = (): number => loadavg()[0] ?? 0;

/**
 * Asserts that a measured run really did its work (found records, received
 * the edits). A plain Error on purpose: the peers' workers must not load
 * Kith's core just to throw, or their memory figures would include it.
 */
export function check(ok: boolean, what: string): asserts ok {
  if (!ok) throw new Error(`benchmark check failed: ${what}`);
}
