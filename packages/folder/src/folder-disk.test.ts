import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statfsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLocalDiskType, onLocalDisk } from './folder-disk.js';
import { openFolderRemote } from './index.js';

test('a folder on a disk file system is local; network shares, FUSE mounts and FAT sticks are not', () => {
  for (const t of [0xef53, 0x58465342, 0x9123683e, 0x01021994]) assert.equal(isLocalDiskType(t), true, t.toString(16));
  // NFS, SMB, CIFS, SMB2, FUSE, vfat, exFAT.
  for (const t of [0x6969, 0x517b, 0xff534d42, 0xfe534d42, 0x65735546, 0x4d44, 0x2011bab0]) assert.equal(isLocalDiskType(t), false, t.toString(16));
});

test('the folder remote declares capabilities.local as its file system says, unless told; other platforms are not local', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kith-folder-disk-'));
  try {
    const expected = process.platform === 'linux' && isLocalDiskType(Number(statfsSync(dir).type));
    assert.equal(await onLocalDisk(dir), expected);
    assert.equal(await onLocalDisk(dir, 'darwin'), false);
    assert.equal(await onLocalDisk(join(dir, 'missing')), false, 'a directory that cannot be examined is not local');
    assert.equal((await openFolderRemote(dir)).capabilities.local, expected);
    assert.equal((await openFolderRemote(dir, { local: false })).capabilities.local, false);
    assert.equal((await openFolderRemote(dir, { local: true })).capabilities.local, true);
    assert.equal((await openFolderRemote(dir)).capabilities.putIfAbsent, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
