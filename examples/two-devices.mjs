// Two devices, one end-to-end encrypted vault, a folder as the remote.
// Run from the repository root after `npm ci`: node examples/two-devices.mjs
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Vault } from '@kith/core';
import { openFolderRemote } from '@kith/folder';
import { openSqliteStore } from '@kith/sqlite';

const dir = mkdtempSync(join(tmpdir(), 'kith-example-'));
const remoteDir = join(dir, 'remote'); // could be a synced or shared folder

try {
  // Device A creates the vault. Keep the recovery code somewhere safe.
  const { vault: laptop, recoveryCode } = await Vault.create({
    store: await openSqliteStore(join(dir, 'laptop', 'kith.db')),
    remote: await openFolderRemote(remoteDir, { create: true }),
    remoteUrl: remoteDir,
    deviceName: 'laptop',
  });
  console.log('recovery code:', recoveryCode);

  await laptop.put('notes', 'n1', { title: 'Groceries', body: 'milk, eggs', pinned: true });
  await laptop.batch((b) => {
    b.put('notes', 'n2', { title: 'Ideas', pinned: false });
    b.put('notes', 'n3', { title: 'Books', pinned: true });
  });
  console.log('laptop pushed', (await laptop.sync()).pushed, 'changes');

  // Device B joins with the recovery code and gets its own device keys.
  const phone = await Vault.restore({
    store: await openSqliteStore(join(dir, 'phone', 'kith.db')),
    remote: await openFolderRemote(remoteDir),
    remoteUrl: remoteDir,
    recoveryCode,
    deviceName: 'phone',
  });
  phone.on('caughtUp', ({ changes }) => console.log(`phone caught up (${changes} changes)`));
  const unsubscribe = phone.subscribe('notes', { where: { pinned: true }, order: 'title' }, (docs) =>
    console.log('phone sees pinned:', docs.map((d) => d.title).join(', ')),
  );
  await phone.sync();

  // Both edit the same field while apart: a conflict, listed on both devices.
  await phone.patch('notes', 'n1', { body: 'milk, eggs, bread' });
  await laptop.patch('notes', 'n1', { body: 'oat milk' });
  await phone.sync();
  await laptop.sync();
  await phone.sync();
  const [conflict] = await laptop.conflicts();
  console.log('conflict on', conflict.field, '→ winner', JSON.stringify(conflict.winner), 'loser', JSON.stringify(conflict.losers[0].value));
  await laptop.resolve('notes', 'n1', 'body', { value: 'oat milk, eggs, bread' });
  await laptop.sync();
  await phone.sync();
  console.log('phone has:', (await phone.get('notes', 'n1')).body);

  unsubscribe();
  await laptop.close();
  await phone.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
