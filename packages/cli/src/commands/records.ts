/**
 * @module commands/records
 * Reading and writing records: put, patch, rm, import, get, ls.
 */
import { ErrorCode, KithError, type Doc, type ListQuery, type SyncResult, type Vault } from '@kith/core';
import type { Command } from 'commander';
import { withVault } from '../home.js';
import { jsonObjectArg, readJsonLines, whereValue } from '../input.js';
import { lineCounter, showSyncProgress } from '../progress.js';
import { collect, contextOf, positiveInt } from './shared.js';

async function pushIf(vault: Vault, sync: boolean | undefined, json: boolean): Promise<SyncResult | undefined> {
  if (!sync) return undefined;
  const stop = showSyncProgress(vault, json);
  try {
    return await vault.push();
  } finally {
    stop();
  }
}

/** Adds `put`, `patch`, `rm`, `import`, `get` and `ls` to the program. */
export function registerRecords(program: Command): void {
  program
    .command('put')
    .description('replace a record (fields not given are removed)')
    .argument('<collection>')
    .argument('<id>')
    .argument('<json>', 'a JSON object, or - to read it from stdin')
    .option('--sync', 'push right after the write')
    .action(async (collection: string, id: string, json: string, o: { sync?: boolean }, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      const fields = await jsonObjectArg(json);
      const pushed = await withVault(opts, async (v) => {
        await v.put(collection, id, fields);
        return pushIf(v, o.sync, out.json);
      });
      out.result({ ok: true, collection, id, ...(pushed ? { pushed: pushed.pushed } : {}) }, () => (pushed ? `saved and pushed ${pushed.pushed} change(s)` : 'saved'));
    });

  program
    .command('patch')
    .description('set the given top-level fields of a record, keeping the others')
    .argument('<collection>')
    .argument('<id>')
    .argument('<json>', 'a JSON object of fields, or - to read it from stdin')
    .option('--sync', 'push right after the write')
    .action(async (collection: string, id: string, json: string, o: { sync?: boolean }, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      const fields = await jsonObjectArg(json, 'the fields');
      const pushed = await withVault(opts, async (v) => {
        await v.patch(collection, id, fields);
        return pushIf(v, o.sync, out.json);
      });
      out.result({ ok: true, collection, id, ...(pushed ? { pushed: pushed.pushed } : {}) }, () => (pushed ? `saved and pushed ${pushed.pushed} change(s)` : 'saved'));
    });

  program
    .command('rm')
    .description('delete a record')
    .argument('<collection>')
    .argument('<id>')
    .option('--sync', 'push right after the write')
    .action(async (collection: string, id: string, o: { sync?: boolean }, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      const pushed = await withVault(opts, async (v) => {
        await v.delete(collection, id);
        return pushIf(v, o.sync, out.json);
      });
      out.result({ ok: true, collection, id, ...(pushed ? { pushed: pushed.pushed } : {}) }, () => 'deleted');
    });

  program
    .command('import')
    .description('import JSON Lines (one object with an "id" per line) in one transaction: all or nothing')
    .argument('<collection>')
    .argument('<file>', 'a .jsonl file, or - for stdin')
    .action(async (collection: string, file: string, _o: object, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      const counter = lineCounter(out.json);
      let lines;
      try {
        lines = await readJsonLines(file, (n) => counter.tick(n));
      } finally {
        counter.stop();
      }
      const imported = await withVault(opts, (v) => v.batch((b) => lines.forEach((l) => b.put(collection, l.id, l.fields))));
      out.result({ imported }, () => `imported ${imported} record(s) into ${collection}`);
    });

  program
    .command('get')
    .description('print a record as JSON')
    .argument('<collection>')
    .argument('<id>')
    .action(async (collection: string, id: string, _o: object, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      const doc = await withVault(opts, (v) => v.get(collection, id));
      if (!doc) throw new KithError(ErrorCode.NotFound, `no record ${JSON.stringify(id)} in ${collection}`);
      out.result(doc);
    });

  program
    .command('ls')
    .description('list records of a collection')
    .argument('<collection>')
    .option('--where <field=value>', 'only records whose field equals value (JSON or text); repeatable', collect)
    .option('--limit <n>', 'at most n records', positiveInt('--limit'))
    .option('--order <field>', 'order by a field; -field for descending')
    .action(async (collection: string, o: { where?: string[]; limit?: number; order?: string }, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      const where: Record<string, string | number | boolean | null> = {};
      for (const w of o.where ?? []) {
        const at = w.indexOf('=');
        if (at <= 0) throw new KithError(ErrorCode.Usage, `--where needs FIELD=VALUE, got ${JSON.stringify(w)}`);
        where[w.slice(0, at)] = whereValue(w.slice(at + 1));
      }
      const docs = await withVault(opts, async (v) => {
        const all: Doc[] = [];
        let after: string | null | undefined;
        do {
          const want = o.limit === undefined ? 1000 : Math.min(1000, o.limit - all.length);
          const q: ListQuery = { where, limit: want, ...(o.order ? { order: o.order } : {}), ...(after ? { after } : {}) };
          const page = await v.list(collection, q);
          all.push(...page.records);
          after = page.next;
        } while (after && (o.limit === undefined || all.length < o.limit));
        return all;
      });
      out.result(docs, () => docs.map((d) => JSON.stringify(d)).join('\n'));
    });
}
