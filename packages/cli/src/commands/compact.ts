/**
 * @module commands/compact
 * `kith compact [--grace-hours N] [--dry-run]`: syncs, then deletes from the
 * remote the segments every snapshot covers and every active device
 * acknowledged, and old snapshots (see docs/FORMAT.md "Compaction").
 */
import type { Command } from 'commander';
import { ErrorCode, KithError } from '@kith/core';
import { withVault } from '../home.js';
import { objectBar } from '../progress.js';
import { contextOf } from './shared.js';

/** `--grace-hours`: a number of hours ≥ 0 (0: a snapshot counts at once). */
function graceHours(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new KithError(ErrorCode.Usage, `--grace-hours must be a number of hours (0 or more), got ${JSON.stringify(v)}`);
  return n;
}

/** Adds `compact` to the program. */
export function registerCompact(program: Command): void {
  program
    .command('compact')
    .description('sync, then delete from the remote the history every device has and a snapshot holds')
    .option('--grace-hours <n>', 'how old a snapshot must be before the history it holds is deleted (default 24)', graceHours)
    .option('--dry-run', 'only report what would be deleted')
    .action(async (o: { graceHours?: number; dryRun?: boolean }, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      const bar = objectBar(out.json, 'compacting');
      let r;
      try {
        r = await withVault(opts, (v) =>
          v.compact({
            ...(o.graceHours === undefined ? {} : { graceHours: o.graceHours }),
            dryRun: o.dryRun === true,
            onProgress: (p) => bar.update(p.done, p.total),
          }),
        );
      } finally {
        bar.stop();
      }
      const result = { deleted: r.deleted, kept: r.kept, bytes: r.bytes };
      out.result(result, () => `${o.dryRun === true ? '(dry run) would delete' : 'Deleted'} ${r.deleted} objects (${r.bytes} bytes); ${r.kept} kept.`);
    });
}
