/**
 * @module commands/blobs
 * Attachments: blob put, get, ls, policy, prefetch, gc.
 */
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { ErrorCode, KithError, type BlobPolicy, type PrefetchPolicy, type PrefetchResult } from '@kith/core';
import type { Command } from 'commander';
import { withVault } from '../home.js';
import { byteBar } from '../progress.js';
import { contextOf, positiveInt, positiveNumber } from './shared.js';
import { inSpace, spaceOption } from './in-space.js';

const MB = 1024 * 1024;

function prefetchPolicy(v: string): PrefetchPolicy {
  if (v !== 'none' && v !== 'recent' && v !== 'all')
    throw new KithError(ErrorCode.Usage, `the prefetch policy is none, recent or all, not ${JSON.stringify(v)}`);
  return v;
}

interface PolicyOptions {
  recentDays?: number;
  cacheMb?: number;
}

/** The options `blob policy` and `blob prefetch` share: what to fetch (named `what`), how recent, how much cache. */
function withPolicyOptions(c: Command, what: '--prefetch' | '--policy'): Command {
  return c
    .option(`${what} <what>`, 'none | recent | all', prefetchPolicy)
    .option('--recent-days <n>', 'with recent: blobs of records changed in the last n days', positiveNumber('--recent-days'))
    .option('--cache-mb <n>', 'keep at most this much in the local blob cache', positiveInt('--cache-mb'));
}

/** The policy fields the options set. */
function policyChange(o: PolicyOptions, prefetch: PrefetchPolicy | undefined): { prefetch?: PrefetchPolicy; recentDays?: number; cacheBytes?: number } {
  return {
    ...(prefetch ? { prefetch } : {}),
    ...(o.recentDays !== undefined ? { recentDays: o.recentDays } : {}),
    ...(o.cacheMb !== undefined ? { cacheBytes: o.cacheMb * MB } : {}),
  };
}

export function describePolicy(p: BlobPolicy): string {
  const what =
    p.prefetch === 'recent'
      ? `blobs of records changed in the last ${p.recentDays} day(s)`
      : p.prefetch === 'all'
        ? 'every blob a record references'
        : 'nothing (blobs are fetched when read)';
  return `prefetch after each sync: ${what}\ncache limit: ${p.cacheBytes === undefined ? 'none' : `${(p.cacheBytes / MB).toFixed(0)} MB`}`;
}

export function describePrefetch(r: PrefetchResult): string {
  return `fetched ${r.fetched} chunk(s), evicted ${r.evicted}${r.unavailable ? `; ${r.unavailable} referenced blob(s) missing or damaged on the remote` : ''}`;
}

/** Writes a verified stream to a Node writable, honouring backpressure. */
async function drainTo(reader: ReadableStreamDefaultReader<Uint8Array>, to: NodeJS.WritableStream, tick: (n: number) => void): Promise<void> {
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    tick(value.length);
    if (!to.write(value)) await new Promise<void>((resolve) => to.once('drain', () => resolve()));
  }
}

/** Adds `blob put|get|ls|policy|prefetch|gc` to the program. */
export function registerBlobs(program: Command): void {
  const blob = program.command('blob').description('attachments: encrypted, chunked, deduplicated files');

  spaceOption(blob.command('put'))
    .description('store a file; prints the ref to put in a record')
    .argument('<file>')
    .option('--type <mediaType>', 'media type to record (e.g. image/jpeg)')
    .action(async (file: string, o: { type?: string; space?: string }, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      let size: number;
      try {
        size = statSync(file).size;
      } catch {
        throw new KithError(ErrorCode.BadInput, `cannot read ${file}`);
      }
      const bar = byteBar(out.json, size, 'uploading');
      // Counted as put reads it: a 'data' listener would start the stream flowing, and pieces read
      // while put is still waiting on the remote (its registry check) would never reach it.
      const source = (async function* () {
        for await (const piece of createReadStream(file, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
          bar.tick(piece.length);
          yield piece;
        }
      })();
      const name = file.split('/').pop() ?? file;
      let r;
      try {
        r = await withVault(opts, (v) => inSpace(v, o).blobs.put(source, { name, ...(o.type ? { type: o.type } : {}) }));
      } finally {
        bar.stop(); // first: the bar's line ends before the result is printed
      }
      out.result(r, () => `${r.ref}\n(${r.size} bytes in ${r.chunks} chunk(s); ${r.uploaded} bytes uploaded)`);
    });

  spaceOption(blob.command('get'))
    .description('write a blob to a file (-o) or to stdout; every chunk is verified first')
    .argument('<ref>')
    .option('-o, --output <file>', 'write here (atomically: the file appears only when complete)')
    .action(async (ref: string, o: { output?: string; space?: string }, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      await withVault(opts, async (vault) => {
        const blobs = inSpace(vault, o).blobs;
        // A space's blobs have no manifest call: no bar there, and the size is what was written.
        const known = 'manifest' in blobs ? (await blobs.manifest(ref)).size : undefined;
        const bar = byteBar(out.json || !o.output || known === undefined, known ?? 0, 'downloading');
        const reader = blobs.get(ref).getReader();
        if (!o.output) {
          await drainTo(reader, process.stdout, () => undefined);
          return;
        }
        const tmp = `${o.output}.kith-partial`;
        let size = 0;
        try {
          const file = createWriteStream(tmp, { mode: 0o600 });
          await drainTo(reader, file, (n) => {
            size += n;
            bar.tick(n);
          });
          await new Promise<void>((resolve, reject) => file.end((e?: Error | null) => (e ? reject(e) : resolve())));
          await rename(tmp, o.output);
        } catch (e) {
          await rm(tmp, { force: true });
          throw e;
        } finally {
          bar.stop();
        }
        out.result({ ok: true, ref, size, file: o.output }, () => `wrote ${size} bytes to ${o.output}`);
      });
    });

  spaceOption(blob.command('ls'))
    .description('blobs this device stored or opened')
    .action(async (o: { space?: string }, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      const list = await withVault(opts, (v) => inSpace(v, o).blobs.list());
      out.result(list, () => list.map((b) => `${b.ref}  ${b.size} bytes  ${b.name ?? ''}  (${b.cached} cached)`).join('\n') || 'no blobs');
    });

  withPolicyOptions(
    blob.command('policy').description("show or change this device's blob policy: what to prefetch after each sync, how much cache to keep"),
    '--prefetch',
  )
    .option('--no-cache-limit', 'remove the cache limit')
    .action(async (o: PolicyOptions & { prefetch?: PrefetchPolicy; cacheLimit: boolean }, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      if (o.cacheMb !== undefined && !o.cacheLimit) throw new KithError(ErrorCode.Usage, '--cache-mb and --no-cache-limit contradict each other');
      const change = { ...policyChange(o, o.prefetch), ...(o.cacheLimit ? {} : { cacheBytes: null }) };
      const p = await withVault(opts, (v) => (Object.keys(change).length ? v.blobs.setPolicy(change) : v.blobs.policy()));
      out.result(p, () => describePolicy(p));
    });

  withPolicyOptions(
    blob.command('prefetch').description("fill the local cache as this device's policy says (options override it for this run), then trim it"),
    '--policy',
  ).action(async (o: PolicyOptions & { policy?: PrefetchPolicy }, cmd: Command) => {
    const { opts, out } = contextOf(cmd);
    const { prefetch, ...rest } = policyChange(o, o.policy);
    const r = await withVault(opts, (v) => v.blobs.prefetch({ ...rest, ...(prefetch ? { policy: prefetch } : {}) }));
    out.result(r, () => describePrefetch(r));
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
