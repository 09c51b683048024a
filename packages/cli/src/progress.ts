/**
 * @module progress
 * A progress bar on stderr for long work, only on a terminal and never
 * with --json.
 */
import { SingleBar, Presets } from 'cli-progress';
import type { SyncProgress, Vault } from '@kith/core';

/** Shows sync progress of `vault` until the returned function is called. */
export function showSyncProgress(vault: Vault, json: boolean): () => void {
  if (json || !process.stderr.isTTY) return () => undefined;
  let bar: SingleBar | undefined;
  let phase: SyncProgress['phase'] | undefined;
  const off = vault.on('progress', (p) => {
    if (p.total < 2) return; // not worth a bar
    if (!bar || phase !== p.phase) {
      bar?.stop();
      phase = p.phase;
      bar = new SingleBar({ format: `${p.phase === 'push' ? 'pushing' : 'pulling'} [{bar}] {value}/{total} segments`, stream: process.stderr, hideCursor: true }, Presets.shades_classic);
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
  const bar = new SingleBar({ format: 'reading {value} lines', stream: process.stderr, hideCursor: true }, Presets.shades_classic);
  bar.start(0, 0);
  return {
    tick: (n) => {
      if (n % 1000 === 0) bar.update(n);
    },
    stop: () => bar.stop(),
  };
}
