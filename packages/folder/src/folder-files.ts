/**
 * @module folder-files
 * The file operations behind a folder remote's durability: reads without
 * over-allocating, writes in as few calls as the kernel takes, and the
 * temp-file → rename (or link) → directory fsync sequence that makes a put
 * atomic and durable.
 */
import { link, mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errnoOf } from './folder-errors.js';
import type { GroupSync } from './group-sync.js';

const toBytes = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.length);

/**
 * Reads at most `length` bytes at `offset` and closes the file, never allocating more than the
 * file holds (nothing when `into` fits it); a whole object usually in one read (readFile reads 512 KiB
 * at a time, each a round trip through the thread pool).
 */
export async function readRange(fh: FileHandle, offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
  try {
    const size = (await fh.stat()).size;
    const n = Math.max(0, Math.min(length, size - offset));
    // Unzeroed is fine: only the bytes read are returned. The caller's buffer when it fits (see GetOptions.into).
    const buf = into && into.length >= n ? into.subarray(0, n) : Buffer.allocUnsafeSlow(n);
    let got = 0;
    while (got < n) {
      const { bytesRead } = await fh.read(buf, got, n - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf instanceof Buffer ? toBytes(buf.subarray(0, got)) : buf.subarray(0, got);
  } finally {
    await fh.close();
  }
}

/** Writes all of `bytes` from the file's start, in as few writes as the kernel takes (FileHandle.writeFile writes 512 KiB at a time). */
export async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += (await fh.write(bytes, at, bytes.length - at, at)).bytesWritten;
}

/**
 * Moves the fsynced temp file to `path` (making its directory if missing),
 * then fsyncs the directories whose entries changed. False when `ifAbsent`
 * found a file there (left as it was).
 */
export async function placeDurably(tmp: string, path: string, ifAbsent: boolean, dirSyncs: GroupSync): Promise<boolean> {
  const dir = dirname(path);
  let created: string | undefined;
  let placed: boolean;
  for (let attempt = 1; ; attempt++) {
    try {
      placed = await placeTemp(tmp, path, ifAbsent);
      break;
    } catch (e) {
      // No directory yet, or a concurrent delete pruned it: make it and try again.
      if (errnoOf(e) !== 'ENOENT' || attempt === 5) throw e;
      created = (await mkdir(dir, { recursive: true })) ?? created;
    }
  }
  // New directories' own entries must be durable too. ENOENT here means a rival
  // delete already removed the object and its directory: nothing left to sync.
  try {
    if (created !== undefined) await syncParents(created, dir);
    await dirSyncs.sync(dir);
  } catch (e) {
    if (errnoOf(e) !== 'ENOENT') throw e;
  }
  return placed;
}

/** Moves the fsynced temp file to `path`; put-if-absent uses link(), which fails with EEXIST instead of replacing (false). */
async function placeTemp(tmp: string, path: string, ifAbsent: boolean): Promise<boolean> {
  if (!ifAbsent) {
    await rename(tmp, path);
    return true;
  }
  let linked = true;
  try {
    await link(tmp, path);
  } catch (e) {
    if (errnoOf(e) !== 'EEXIST') throw e;
    linked = false;
  }
  await unlink(tmp);
  return linked;
}

/** Fsyncs the parent of every directory from `first` (the outermost one mkdir created) down to `dir`. */
async function syncParents(first: string, dir: string): Promise<void> {
  const stop = dirname(first);
  for (let d = dirname(dir); ; d = dirname(d)) {
    await syncDir(d);
    if (d === stop || dirname(d) === d) return;
  }
}

/** Fsyncs a directory, so the entries a rename or link changed in it survive a crash. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
