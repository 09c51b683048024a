import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Vault, type VaultOptions } from '@kith/core';
import { openSqliteStore } from '@kith/sqlite';
import { nodeSpaceRemotes } from './space-remotes.js';
import { openRemote } from './open-remote.js';

/** A person's home: SQLite stores (one per space) and a vault folder of their own under `root`. */
async function home(root: string, name: string): Promise<Omit<VaultOptions, 'remote'> & { url: string }> {
  return {
    url: join(root, `${name}-remote`),
    store: await openSqliteStore(join(root, `${name}.db`)),
    spaceRemotes: nodeSpaceRemotes(),
    spaceStore: async (spaceId) => openSqliteStore(join(root, `${name}-space-${spaceId}.db`)),
  };
}

test('two people on folder remotes and SQLite stores: a space next to the creator’s vault folder, joined by a code carrying its URL', async () => {
  const root = await mkdtemp(join(tmpdir(), 'kith-spaces-folder-'));
  try {
    const ha = await home(root, 'ana');
    const hb = await home(root, 'ben');
    const { vault: a } = await Vault.create({ ...ha, remote: await openRemote(ha.url, { create: true }), remoteUrl: ha.url, deviceName: 'ana' });
    const { vault: b } = await Vault.create({ ...hb, remote: await openRemote(hb.url, { create: true }), remoteUrl: hb.url, deviceName: 'ben' });
    try {
      const { spaceId } = await a.spaces.create('Garden');
      assert.deepEqual(await readdir(join(ha.url, 'spaces')), [spaceId]);
      await a.space('Garden').put('plants', 'p1', { name: 'basil' });
      await a.sync();
      let onCode: (c: string) => void = () => undefined;
      const code = new Promise<string>((resolve) => (onCode = resolve));
      let onSas: (s: string) => void = () => undefined;
      const sas = new Promise<string>((resolve) => (onSas = resolve));
      const inviting = a.spaces.invite('Garden', { pollMs: 10, timeoutMs: 60_000, onCode: (c) => onCode(c), confirm: async (s) => s === (await sas) });
      const given = await code;
      assert.ok(given.endsWith(`@${join(ha.url, 'spaces', spaceId)}`), given);
      const joined = await b.spaces.join(given, { name: 'Ben', pollMs: 10, timeoutMs: 60_000, onSas: (s) => onSas(s) });
      await inviting;
      assert.deepEqual([joined.spaceId, joined.name, joined.role], [spaceId, 'Garden', 'writer']);
      await b.sync();
      assert.deepEqual(await b.space('Garden').get('plants', 'p1'), { name: 'basil', id: 'p1' });
      await b.space('Garden').put('plants', 'p2', { name: 'mint' });
      await b.sync();
      await a.sync();
      assert.deepEqual(
        (await a.space(spaceId).list('plants')).records.map((r) => r.name),
        ['basil', 'mint'],
      );
    } finally {
      await a.close();
      await b.close();
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
