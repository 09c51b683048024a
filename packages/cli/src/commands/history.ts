/**
 * @module commands/history
 * conflicts, resolve, log.
 */
import { ErrorCode, KithError, stampTime, type Resolution } from '@kith/core';
import type { Command } from 'commander';
import { withVault } from '../home.js';
import { jsonValueArg } from '../input.js';
import { contextOf, positiveInt } from './shared.js';
import { inSpace, spaceOption } from './in-space.js';

/** Adds `conflicts`, `resolve` and `log` to the program. */
export function registerHistory(program: Command): void {
  spaceOption(program.command('conflicts'))
    .description('list unresolved conflicts (concurrent writes to one field), identical on every device')
    .argument('[collection]')
    .action(async (collection: string | undefined, o: { space?: string }, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      const list = await withVault(opts, (v) => inSpace(v, o).conflicts(collection));
      const rows = list.map((c) => ({
        collection: c.collection,
        id: c.id,
        field: c.field,
        winner: c.field === null ? (c.winnerDeleted ? 'deleted' : 'alive') : c.winnerDeleted ? null : (c.winner ?? null),
        winnerDevice: c.winnerDevice,
        ...(c.winnerDeleted ? { winnerDeleted: true } : {}),
        losers: c.losers,
      }));
      out.result(rows, () =>
        rows.length === 0
          ? 'no conflicts'
          : rows
              .map(
                (c) =>
                  `${c.collection}/${c.id} ${c.field ?? '(record)'}: ${JSON.stringify(c.winner)} from ${c.winnerDevice} won over ${c.losers.map((l) => `${l.deleted ? '(deleted)' : JSON.stringify(l.value)} from ${l.device}`).join(', ')}`,
              )
              .join('\n'),
      );
    });

  spaceOption(program.command('resolve'))
    .description("resolve a conflict: keep the winner, take a device's value, or set a new value")
    .argument('<collection>')
    .argument('<id>')
    .option('--field <field>', 'only this field (default: every conflict of the record)')
    .option('--keep', 'keep the current winner')
    .option('--take <deviceId>', "take that device's value")
    .option('--value <json>', 'set this value')
    .action(async (collection: string, id: string, o: { field?: string; keep?: boolean; take?: string; value?: string; space?: string }, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      const chosen = [o.keep !== undefined, o.take !== undefined, o.value !== undefined].filter(Boolean).length;
      if (chosen !== 1) throw new KithError(ErrorCode.Usage, 'give exactly one of --keep, --take DEVICE_ID and --value JSON');
      const how: Resolution = o.keep ? { keep: true } : o.take !== undefined ? { take: o.take } : { value: jsonValueArg(o.value!, '--value') };
      await withVault(opts, (v) => inSpace(v, o).resolve(collection, id, o.field, how));
      out.result({ ok: true, collection, id, field: o.field ?? null }, () => 'resolved');
    });

  spaceOption(program.command('log'))
    .description('history of changes: HLC stamp, time, device, kind, fields')
    .argument('[collection]')
    .argument('[id]')
    .option('--limit <n>', 'only the newest n entries', positiveInt('--limit'))
    .option('--reserved', "include the engine's reserved _kith. collections (settings, the spaces directory and keyring)")
    .action(async (collection: string | undefined, id: string | undefined, o: { limit?: number; space?: string; reserved?: boolean }, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      const [entries, prunedBefore] = await withVault(opts, (v) =>
        Promise.all([
          inSpace(v, o).log({
            ...(collection !== undefined ? { collection } : {}),
            ...(id !== undefined ? { id } : {}),
            ...(o.limit !== undefined ? { limit: o.limit } : {}),
            ...(o.reserved ? { reserved: true } : {}),
          }),
          o.space === undefined ? v.historyPrunedBefore() : null, // pruning is the personal space's
        ]),
      );
      const rows = entries.map((e) => ({
        hlc: e.stamp,
        time: new Date(stampTime(e.stamp)).toISOString(),
        device: e.device,
        kind: e.kind,
        collection: e.collection,
        id: e.id,
        fields: e.fields,
      }));
      out.result(
        rows,
        () =>
          [...prunedLine(prunedBefore), ...rows.map((r) => `${r.time} ${r.device} ${r.kind.padEnd(7)} ${r.collection}/${r.id} ${r.fields.join(',')}`)].join(
            '\n',
          ) || 'no history',
      );
    });
}

/** "history before 2026-09-07 pruned (each record keeps its newest entry)", when this device pruned. */
const prunedLine = (at: string | null): string[] => (at === null ? [] : [`history before ${at.slice(0, 10)} pruned (each record keeps its newest entry)`]);
