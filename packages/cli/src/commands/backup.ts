/**
 * @module commands/backup
 * The user's data out of Kith: `export` (plain files for other tools) and
 * `backup` (one encrypted file the recovery code opens; restored by
 * `kith restore --from-backup`, see restore-backup.ts).
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ErrorCode, KithError, formatBlobRef, type BackupResult, type BackupSource, type Vault } from '@kith/core';
import type { Command } from 'commander';
import { withVault } from '../home.js';
import { objectBar } from '../progress.js';
import { contextOf } from './shared.js';

/** What `kith export` writes next to the data, so another tool knows what it holds. */
export interface ExportManifest {
  readonly format: 'kith-export';
  readonly version: 1;
  readonly vaultId: string;
  readonly deviceId: string;
  readonly exportedAt: string;
  readonly collections: { name: string; file: string; records: number }[];
  readonly blobs: { ref: string; file: string; size: number; sha256: string; name?: string; type?: string }[];
}

/** A directory to write into: missing (then made) or empty; anything else is refused before a byte is written. */
function emptyDir(dir: string): void {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      return;
    }
    throw new KithError(ErrorCode.BadInput, `cannot use ${dir}: ${(e as Error).message}`);
  }
  if (entries.length > 0) throw new KithError(ErrorCode.BadInput, `${dir} is not empty`, { hint: 'export into a new or empty directory' });
}

/** Ends a Node write stream and waits until its bytes are handed to the OS. */
const closeStream = (s: NodeJS.WritableStream): Promise<void> =>
  new Promise((resolve, reject) => {
    s.once('error', reject);
    s.end(() => resolve());
  });

/** Writes `bytes` honouring backpressure. */
async function writeTo(s: NodeJS.WritableStream, bytes: Uint8Array | string): Promise<void> {
  if (!s.write(bytes)) await new Promise<void>((resolve) => s.once('drain', () => resolve()));
}

/** Every collection as JSON Lines, every referenced blob as a plaintext file, then the manifest. */
async function exportVault(vault: Vault, dir: string, bar: ReturnType<typeof objectBar>): Promise<ExportManifest> {
  mkdirSync(join(dir, 'collections'), { mode: 0o700 });
  mkdirSync(join(dir, 'blobs'), { mode: 0o700 });
  const collections: ExportManifest['collections'] = [];
  let file: NodeJS.WritableStream | undefined;
  let done = 0;
  for await (const page of vault.exportRecords()) {
    let current = collections.at(-1);
    if (current?.name !== page.collection) {
      if (file) await closeStream(file);
      current = { name: page.collection, file: `collections/${page.collection}.jsonl`, records: 0 };
      collections.push(current);
      file = createWriteStream(join(dir, current.file), { mode: 0o600 });
    }
    // One record per line, `{...fields, "id"}`: the form `kith import` reads, so an export re-imports as it is.
    await writeTo(file!, page.records.map((r) => JSON.stringify(r) + '\n').join(''));
    current.records += page.records.length;
    bar.update((done += page.records.length), done);
  }
  if (file) await closeStream(file);
  const ids = [...(await vault.blobs.referenced())].sort();
  const blobs: ExportManifest['blobs'] = [];
  for (const id of ids) {
    const ref = formatBlobRef(id);
    const m = await vault.blobs.manifest(ref);
    const hash = createHash('sha256');
    const out = createWriteStream(join(dir, 'blobs', id), { mode: 0o600 });
    const reader = vault.blobs.get(ref).getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      hash.update(r.value);
      await writeTo(out, r.value);
    }
    await closeStream(out);
    blobs.push({
      ref,
      file: `blobs/${id}`,
      size: m.size,
      sha256: hash.digest('hex'),
      ...(m.name ? { name: m.name } : {}),
      ...(m.type ? { type: m.type } : {}),
    });
    bar.update(done + blobs.length, done + ids.length);
  }
  const manifest: ExportManifest = {
    format: 'kith-export',
    version: 1,
    vaultId: vault.vaultId,
    deviceId: vault.deviceId,
    exportedAt: new Date().toISOString(),
    collections,
    blobs,
  };
  // Written last: a directory without it is an export that did not finish.
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n', { mode: 0o600 });
  return manifest;
}

/** A backup file on disk as the library reads it (KITH_BAD_INPUT if it is not a readable file). */
export function backupFile(path: string): BackupSource {
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch {
    // reported below
  }
  if (!isFile) throw new KithError(ErrorCode.BadInput, `no such backup file: ${path}`);
  return { name: path, open: () => createReadStream(path, { highWaterMark: 1024 * 1024 }) };
}

/** The other files of a backup's chain live beside it, under the names it recorded. */
export const besideBackup =
  (path: string) =>
  (name: string): BackupSource | undefined => {
    const p = join(dirname(resolve(path)), basename(name));
    return existsSync(p) ? backupFile(p) : undefined;
  };

/** Writes the backup to a temporary file beside `file`, flushed to disk, then renamed: `file` appears only when complete. */
async function writeAtomically(file: string, write: (sink: (bytes: Uint8Array) => Promise<void>) => Promise<BackupResult>): Promise<BackupResult> {
  const tmp = join(dirname(resolve(file)), `.${basename(file)}.${process.pid}.tmp`);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    const r = await write(async (bytes) => {
      await fh.write(bytes);
    });
    await fh.sync();
    await fh.close();
    await rename(tmp, file);
    return r;
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Adds `export` and `backup` to the program. */
export function registerBackup(program: Command): void {
  program
    .command('export')
    .description('write every collection as JSON Lines and every blob as a plain file, with a manifest (plaintext: for other tools)')
    .argument('<dir>', 'a new or empty directory')
    .action(async (dir: string, _o: object, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      emptyDir(dir);
      const bar = objectBar(out.json, 'exporting');
      let manifest: ExportManifest;
      try {
        manifest = await withVault(opts, (v) => exportVault(v, dir, bar));
      } finally {
        bar.stop();
      }
      const records = manifest.collections.reduce((n, c) => n + c.records, 0);
      out.result(
        { collections: manifest.collections.length, records, blobs: manifest.blobs.length },
        () => `exported ${records} record(s) in ${manifest.collections.length} collection(s) and ${manifest.blobs.length} blob(s) to ${dir} (plaintext)`,
      );
    });

  program
    .command('backup')
    .description('write one encrypted file of the whole vault (records, registry, keys, blobs); the recovery code opens it (`kith restore --from-backup`)')
    .argument('<file>', 'the backup file to write (must not exist)')
    .option('--no-blobs', 'leave blobs out')
    .option('--incremental <previous>', 'write only what changed since this earlier backup (keep it beside the new one)')
    .action(async (file: string, o: { blobs: boolean; incremental?: string }, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      if (existsSync(file)) throw new KithError(ErrorCode.BadInput, `${file} already exists`, { hint: 'give a new file name' });
      const previous = o.incremental === undefined ? undefined : backupFile(o.incremental);
      const bar = objectBar(out.json, 'backing up');
      let r: BackupResult;
      try {
        r = await withVault(opts, (v) =>
          writeAtomically(file, (write) =>
            v.backup({ write, blobs: o.blobs, ...(previous ? { previous } : {}), onProgress: (p) => bar.update(p.records + p.blobs, p.records + p.blobs) }),
          ),
        );
      } finally {
        bar.stop();
      }
      if (o.incremental !== undefined && dirname(resolve(o.incremental)) !== dirname(resolve(file)))
        out.note(`kith: note: keep ${basename(o.incremental)} beside ${basename(file)}: restoring ${basename(file)} looks for it there`);
      if (r.missingBlobs > 0) out.note(`kith: warning: ${r.missingBlobs} referenced blob(s) are missing from the remote and are not in the backup`);
      out.result(
        { file, bytes: r.bytes, records: r.records, blobs: r.blobs },
        () =>
          `wrote ${r.incremental ? 'an incremental' : 'a'} backup of ${r.records} record(s) and ${r.blobs} blob(s) to ${file} (${r.bytes} bytes); the recovery code opens it`,
      );
    });
}
