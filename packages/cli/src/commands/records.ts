/**
 * @module commands/records
 * Reading and writing records: put, patch, rm, import, get, ls.
 */
import { ErrorCode, KithError, type Doc, type ListQuery, type SyncResult } from '@kith/core';
import type { Command } from 'commander';
import { withVault } from '../home.js';
import { jsonObjectArg, readJsonLines, whereValue } from '../input.js';
import { lineCounter, showSyncProgress } from '../progress.js';
import { collect, contextOf, positiveInt } from './shared.js';
import { inSpace, spaceOption, type Records } from './in-space.js';

/** Runs one write, pushes it when --sync asks, and prints the contract's `{"ok":true,...}` result. */
async function writeAndReport(
  cmd: Command,
  collection: string,
  id: string,
  o: { sync?: boolean; space?: string },
  write: (r: Records) => Promise<void>,
  human: (pushed: SyncResult | undefined) => string,
): Promise<void> {
  const { opts, out } = contextOf(cmd);
  const pushed = await withVault(opts, async (v) => {
    await write(inSpace(v, o));
    if (!o.sync) return undefined;
    const stop = showSyncProgress(v, out.json);
    try {
      return await v.push();
    } finally {
      stop();
    }
  });
  out.result({ ok: true, collection, id, ...(pushed ? { pushed: pushed.pushed } : {}) }, () => human(pushed));
}

/** What a write says, with or without --sync: `saved`, `deleted and pushed 1 change(s)`. */
const done =
  (verb: string) =>
  (pushed: SyncResult | undefined): string =>
    pushed ? `${verb} and pushed ${pushed.pushed} change(s)` : verb;

/** Adds `put`, `patch`, `rm`, `import`, `get` and `ls` to the program. */
export function registerRecords(program: Command): void {
  const writes = [
    {
      name: 'put',
      description: 'replace a record (fields not given are removed)',
      json: 'a JSON object, or - to read it from stdin',
      what: 'the record',
      method: 'put',
    },
    {
      name: 'patch',
      description: 'set the given top-level fields of a record, keeping the others',
      json: 'a JSON object of fields, or - to read it from stdin',
      what: 'the fields',
      method: 'patch',
    },
  ] as const;
  for (const w of writes) {
    spaceOption(program.command(w.name))
      .description(w.description)
      .argument('<collection>')
      .argument('<id>')
      .argument('<json>', w.json)
      .option('--sync', 'push right after the write')
      .action(async (collection: string, id: string, json: string, o: { sync?: boolean; space?: string }, cmd: Command) => {
        const fields = await jsonObjectArg(json, w.what);
        await writeAndReport(cmd, collection, id, o, (r) => r[w.method](collection, id, fields), done('saved'));
      });
  }

  spaceOption(program.command('rm'))
    .description('delete a record')
    .argument('<collection>')
    .argument('<id>')
    .option('--sync', 'push right after the write')
    .action(async (collection: string, id: string, o: { sync?: boolean; space?: string }, cmd: Command) => {
      await writeAndReport(cmd, collection, id, o, (r) => r.delete(collection, id), done('deleted'));
    });

  spaceOption(program.command('import'))
    .description('import JSON Lines (one object with an "id" per line) in one transaction: all or nothing')
    .argument('<collection>')
    .argument('<file>', 'a .jsonl file, or - for stdin')
    .action(async (collection: string, file: string, o: { space?: string }, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      const counter = lineCounter(out.json);
      let lines;
      try {
        lines = await readJsonLines(file, (n) => counter.tick(n));
      } finally {
        counter.stop();
      }
      const imported = await withVault(opts, (v) => inSpace(v, o).batch((b) => lines.forEach((l) => b.put(collection, l.id, l.fields))));
      out.result({ imported }, () => `imported ${imported} record(s) into ${collection}`);
    });

  spaceOption(program.command('get'))
    .description('print a record as JSON')
    .argument('<collection>')
    .argument('<id>')
    .action(async (collection: string, id: string, o: { space?: string }, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      const doc = await withVault(opts, (v) => inSpace(v, o).get(collection, id));
      if (!doc) throw new KithError(ErrorCode.NotFound, `no record ${JSON.stringify(id)} in ${collection}`);
      out.result(doc);
    });

  spaceOption(program.command('ls'))
    .description('list records of a collection')
    .argument('<collection>')
    .option('--where <field=value>', 'only records whose field equals value (JSON or text); repeatable', collect)
    .option('--limit <n>', 'at most n records', positiveInt('--limit'))
    .option('--order <field>', 'order by a field; -field for descending')
    .action(async (collection: string, o: { where?: string[]; limit?: number; order?: string; space?: string }, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      // fromEntries, not assignment: a field named __proto__ stays a key.
      const where = Object.fromEntries(
        (o.where ?? []).map((w) => {
          const at = w.indexOf('=');
          if (at <= 0) throw new KithError(ErrorCode.Usage, `--where needs FIELD=VALUE, got ${JSON.stringify(w)}`);
          return [w.slice(0, at), whereValue(w.slice(at + 1))];
        }),
      );
      const docs = await withVault(opts, async (vault) => {
        const v = inSpace(vault, o);
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
