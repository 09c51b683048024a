/**
 * @module progress
 * A progress bar on stderr for long work, only on a terminal and never
 * with --json.
 */
import { createRequire } from 'node:module';
import type * as CliProgress from 'cli-progress';
import type { SyncProgress, Vault } from '@kith/core';

/** Loaded only when a bar is drawn: most runs (pipes, --json) never need it, and every process start counts. */
const bars = (): typeof CliProgress => createRequire(import.meta.url)('cli-progress') as typeof CliProgress;

function newBar(format: string): CliProgress.SingleBar {
  const { SingleBar, Presets } = bars();
  return new SingleBar({ format, stream: process.stderr, hideCursor: true }, Presets.shades_classic);
}

/** Shows sync progress of `vault` until the returned function is called. */
export function showSyncProgress(vault: Vault, json: boolean): () => void {
  if (json || !process.stderr.isTTY) return () => undefined;
  let bar: CliProgress.SingleBar | undefined;
  let phase: SyncProgress['phase'] | undefined;
  const off = vault.on('progress', (p) => {
    if (p.total < 2) return; // not worth a bar
    if (!bar || phase !== p.phase) {
      bar?.stop();
      phase = p.phase;
      bar = newBar(`${p.phase === 'push' ? 'pushing' : 'pulling'} [{bar}] {value}/{total} segments`);
      bar.start(p.total, 0);
    }
    bar.setTotal(p.total);
    bar.update(p.done);
  });
  return () => {
    off();
    bar?.stop();
  };
}

/** A counter bar for reading a big import file. */
export function lineCounter(json: boolean): { tick(n: number): void; stop(): void } {
  if (json || !process.stderr.isTTY) return { tick: () => undefined, stop: () => undefined };
  const bar = newBar('reading {value} lines');
  bar.start(0, 0);
  return {
    tick: (n) => {
      if (n % 1000 === 0) bar.update(n);
    },
    stop: () => bar.stop(),
  };
}

/** A MiB bar for a transfer of `total` bytes (only for 4 MiB and more). */
export function byteBar(json: boolean, total: number, label: string): { tick(n: number): void; stop(): void } {
  if (json || !process.stderr.isTTY || total < 4 * 1024 * 1024) return { tick: () => undefined, stop: () => undefined };
  const { SingleBar, Presets } = bars();
  // Counted in bytes, shown in MiB: the bar reaches 100% exactly when the last byte is through.
  const bar = new SingleBar(
    {
      format: `${label} [{bar}] {percentage}% {value}/{total} MiB`,
      stream: process.stderr,
      hideCursor: true,
      formatValue: (v, _o, type) => (type === 'value' || type === 'total' ? mib(v) : String(v)),
    },
    Presets.shades_classic,
  );
  bar.start(total, 0);
  let done = 0;
  return {
    tick: (n) => bar.update((done += n)),
    stop: () => bar.stop(),
  };
}

/** A bar of objects done out of a total the work learns as it goes (`kith check`). */
export function objectBar(json: boolean, label: string): { update(done: number, total: number): void; stop(): void } {
  if (json || !process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  let bar: CliProgress.SingleBar | undefined;
  return {
    update: (done, total) => {
      if (!bar) {
        bar = newBar(`${label} [{bar}] {value}/{total} objects`);
        bar.start(total, 0);
      }
      bar.setTotal(total);
      bar.update(done);
    },
    stop: () => bar?.stop(),
  };
}

/** Whole MiB as such (`12`), else one decimal (`5.5`). */
const mib = (bytes: number): string => {
  const m = bytes / 1048576;
  return Number.isInteger(m) ? String(m) : m.toFixed(1);
};
