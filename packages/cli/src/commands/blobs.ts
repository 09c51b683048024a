/**
 * @module commands/blobs
 * Attachments: blob put, get, ls, prefetch, gc.
 */
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { ErrorCode, KithError } from '@kith/core';
import type { Command } from 'commander';
import { withVault } from '../home.js';
import { byteBar } from '../progress.js';
import { contextOf, positiveInt } from './shared.js';

/** Writes a verified stream to a Node writable, honouring backpressure. */
async function drainTo(reader: ReadableStreamDefaultReader<Uint8Array>, to: NodeJS.WritableStream, tick: (n: number) => void): Promise<void> {
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    tick(value.length);
    if (!to.write(value)) await new Promise<void>((resolve) => to.once('drain', () => resolve()));
  }
}

/** Adds `blob put|get|ls|prefetch|gc` to the program. */
export function registerBlobs(program: Command): void {
  const blob = program.command('blob').description('attachments: encrypted, chunked, deduplicated files');

  blob
    .command('put')
    .description('store a file; prints the ref to put in a record')
    .argument('<file>')
    .option('--type <mediaType>', 'media type to record (e.g. image/jpeg)')
    .action(async (file: string, o: { type?: string }, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      let size: number;
      try {
        size = statSync(file).size;
      } catch {
        throw new KithError(ErrorCode.BadInput, `cannot read ${file}`);
      }
      const bar = byteBar(out.json, size, 'uploading');
      const source = createReadStream(file, { highWaterMark: 1024 * 1024 });
      source.on('data', (d) => bar.tick(d.length));
      const name = file.split('/').pop() ?? file;
      try {
        const r = await withVault(opts, (v) => v.blobs.put(source, { name, ...(o.type ? { type: o.type } : {}) }));
        out.result(r, () => `${r.ref}\n(${r.size} bytes in ${r.chunks} chunk(s); ${r.uploaded} bytes uploaded)`);
      } finally {
        bar.stop();
      }
    });

  blob
    .command('get')
    .description('write a blob to a file (-o) or to stdout; every chunk is verified first')
    .argument('<ref>')
    .option('-o, --output <file>', 'write here (atomically: the file appears only when complete)')
    .action(async (ref: string, o: { output?: string }, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      await withVault(opts, async (v) => {
        const manifest = await v.blobs.manifest(ref);
        const bar = byteBar(out.json || !o.output, manifest.size, 'downloading');
        const reader = v.blobs.get(ref).getReader();
        if (!o.output) {
          await drainTo(reader, process.stdout, () => undefined);
          return;
        }
        const tmp = `${o.output}.kith-partial`;
        try {
          const file = createWriteStream(tmp, { mode: 0o600 });
          await drainTo(reader, file, (n) => bar.tick(n));
          await new Promise<void>((resolve, reject) => file.end((e?: Error | null) => (e ? reject(e) : resolve())));
          await rename(tmp, o.output);
        } catch (e) {
          await rm(tmp, { force: true });
          throw e;
        } finally {
          bar.stop();
        }
        out.result({ ok: true, ref, size: manifest.size, file: o.output }, () => `wrote ${manifest.size} bytes to ${o.output}`);
      });
    });

  blob
    .command('ls')
    .description('blobs this device stored or opened')
    .action(async (_o: object, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      const list = await withVault(opts, (v) => v.blobs.list());
      out.result(list, () => list.map((b) => `${b.ref}  ${b.size} bytes  ${b.name ?? ''}  (${b.cached} cached)`).join('\n') || 'no blobs');
    });

  blob
    .command('prefetch')
    .description('fetch the blobs records reference into the local cache, then trim it')
    .option('--policy <policy>', 'all | recent | none', 'all')
    .option('--recent-days <n>', 'with --policy recent: records changed in the last n days', positiveInt('--recent-days'), 30)
    .option('--cache-mb <n>', 'keep at most this much in the cache', positiveInt('--cache-mb'))
    .action(async (o: { policy: string; recentDays: number; cacheMb?: number }, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      if (!['all', 'recent', 'none'].includes(o.policy)) throw new KithError(ErrorCode.Usage, '--policy must be all, recent or none');
      const r = await withVault(opts, (v) =>
        v.blobs.prefetch({ policy: o.policy as 'all' | 'recent' | 'none', recentDays: o.recentDays, ...(o.cacheMb !== undefined ? { cacheBytes: o.cacheMb * 1048576 } : {}) }),
      );
      out.result(r, () => `fetched ${r.fetched} chunk(s), evicted ${r.evicted}`);
    });

  blob
    .command('gc')
    .description('remove from the remote the blobs no record references (after a grace period)')
    .option('--dry-run', 'only report')
    .option('--grace-days <n>', 'keep unreferenced blobs this long after they are first seen unreferenced', positiveInt('--grace-days'), 7)
    .action(async (o: { dryRun?: boolean; graceDays: number }, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      const r = await withVault(opts, async (v) => {
        await v.sync(); // collect only with every device's references in view
        return v.blobs.gc({ dryRun: o.dryRun === true, graceMs: o.graceDays * 86400_000 });
      });
      out.result(r, () => `${r.dryRun ? '(dry run) ' : ''}marked ${r.marked}, deleted ${r.deleted}, kept ${r.kept}`);
    });
}
