/**
 * @module commands/retention
 * `kith retention [COLL] [--days N | --off]`: sets, removes or lists the
 * vault's retention rules (one per collection, obeyed by every device).
 */
import { ErrorCode, KithError } from '@kith/core';
import type { Command } from 'commander';
import { withVault } from '../home.js';
import { contextOf, positiveInt } from './shared.js';

/** Adds `retention` to the program. */
export function registerRetention(program: Command): void {
  program
    .command('retention')
    .description('delete records of a collection on every device once their newest write is older than N days (--off: keep them); alone, list the rules')
    .argument('[collection]')
    .option('--days <n>', 'keep records this many days after their newest write', positiveInt('--days'))
    .option('--off', 'turn retention off for the collection')
    .action(async (collection: string | undefined, o: { days?: number; off?: boolean }, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      if (collection === undefined) {
        if (o.days !== undefined || o.off) throw new KithError(ErrorCode.Usage, 'name the collection: kith retention COLL (--days N | --off)');
        const rules = await withVault(opts, (v) => v.retention());
        out.result({ rules }, () => (rules.length === 0 ? 'no retention rules' : rules.map((r) => `${r.collection}: ${r.days} days`).join('\n')));
        return;
      }
      if ((o.days !== undefined) === (o.off === true)) throw new KithError(ErrorCode.Usage, 'give exactly one of --days N and --off');
      await withVault(opts, (v) => v.setRetention(collection, o.off ? null : { days: o.days! }));
      out.result({ ok: true }, () =>
        o.off ? `retention off for ${collection}` : `${collection}: records are deleted ${o.days} days after their newest write`,
      );
    });
}
