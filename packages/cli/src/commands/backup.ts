/**
 * @module commands/backup
 * The user's data out of Kith: `export` (plain files for other tools) and
 * `backup` (one encrypted file the recovery code opens; restored by
 * `kith restore --from-backup`, see restore-backup.ts).
 */
import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, KithError, formatBlobRef, type Vault } from '@kith/core';
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
}
