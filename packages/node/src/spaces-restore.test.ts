import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Vault, type VaultOptions } from '@kith/core';
import { openSqliteStore } from '@kith/sqlite';
import { startTestRelay } from '@kith/relay-server/testing';
import { nodeSpaceRemotes } from './space-remotes.js';
import { openRemote } from './open-remote.js';

const BLOB = new Uint8Array(150_000).map((_, i) => (i * 31) % 251);

/** One device of the person: its own SQLite stores (personal and one per space) under `root`. */
async function device(root: string, name: string, url: string): Promise<Omit<VaultOptions, 'remote'> & { remote: VaultOptions['remote'] }> {
  return {
    store: await openSqliteStore(join(root, `${name}.db`)),
    remote: await openRemote(url, { create: true }),
    spaceRemotes: nodeSpaceRemotes(),
    spaceStore: async (spaceId) => openSqliteStore(join(root, `${name}-space-${spaceId}.db`)),
  };
}

async function readBlob(v: Vault, id: string): Promise<Uint8Array> {
  const ref = (await v.space('Home').get('files', id))!['ref'] as string;
  return new Uint8Array(await new Response(v.space('Home').blobs.get(ref)).arrayBuffer());
}

/**
 * A sole member writes a record and a blob in their space, syncs and loses
 * the device; a device restored with the recovery code reads both and
 * writes on, and a device restored after that one was lost too reads it all.
 */
async function soleMemberRestores(url: string, root: string, spacesChecked: boolean): Promise<void> {
  const { vault: a, recoveryCode } = await Vault.create({ ...(await device(root, 'first', url)), remoteUrl: url, deviceName: 'first' });
  try {
    await a.spaces.create('Home');
    await a.space('Home').put('notes', 'n1', { text: 'before the loss' });
    const { ref } = await a.space('Home').blobs.put(BLOB, { name: 'photo.bin' });
    await a.space('Home').put('files', 'f1', { ref });
    await a.sync();
  } finally {
    await a.close();
  }
  const r = await Vault.restore({ ...(await device(root, 'restored', url)), remoteUrl: url, deviceName: 'restored', recoveryCode });
  try {
    await r.sync();
    assert.deepEqual(await r.space('Home').get('notes', 'n1'), { text: 'before the loss', id: 'n1' });
    assert.deepEqual(await readBlob(r, 'f1'), BLOB);
    await r.space('Home').put('notes', 'n2', { text: 'after the restore' });
    await r.sync();
    // The keys the restored device sealed to itself are ones a reader accepts: signed by a device of the member's newest certificate.
    // (A space's blobs are not known to `kith check` yet: left out here.)
    const report = await r.check();
    assert.deepEqual(
      report.problems.filter((p) => !/^spaces\/[0-9a-f]{32}\/blobs\//.test(p.key)),
      [],
    );
    if (spacesChecked) assert.equal(report.checked.spaceKeys, 2, 'sealed to the lost device and, by itself, to the restored one');
  } finally {
    await r.close();
  }
  const again = await Vault.restore({ ...(await device(root, 'again', url)), remoteUrl: url, deviceName: 'again', recoveryCode });
  try {
    await again.sync();
    assert.deepEqual(
      (await again.space('Home').list('notes')).records.map((n) => n['text']),
      ['before the loss', 'after the restore'],
    );
    assert.deepEqual(await readBlob(again, 'f1'), BLOB);
  } finally {
    await again.close();
  }
}

describe('a sole member who loses every device restores their space with the recovery code', () => {
  test('through a folder remote and SQLite stores', async () => {
    const root = await mkdtemp(join(tmpdir(), 'kith-spaces-restore-'));
    try {
      await soleMemberRestores(join(root, 'remote'), root, true); // the space is under the vault's folder, which `check` reads
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  test('through the relay', async () => {
    const root = await mkdtemp(join(tmpdir(), 'kith-spaces-restore-relay-'));
    const relay = await startTestRelay({}, join(root, 'relay'));
    try {
      await soleMemberRestores(`${relay.relay.url}/ana`, root, false); // the space is a relay vault of its own
    } finally {
      await relay.stop();
      await rm(root, { recursive: true, force: true });
    }
  });
});
