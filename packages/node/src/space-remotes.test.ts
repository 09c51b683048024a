import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeSpaceRemotes, spaceRemoteUrl } from './space-remotes.js';

const id = '0123456789abcdef0123456789abcdef';

test('a space lives next to its vault: a prefix for folders and S3, the last path segment swapped for a relay', () => {
  assert.equal(spaceRemoteUrl('/mnt/nas/kith', id), `/mnt/nas/kith/spaces/${id}`);
  assert.equal(spaceRemoteUrl('/mnt/nas/kith/', id), `/mnt/nas/kith/spaces/${id}`);
  assert.equal(spaceRemoteUrl('file:///mnt/kith', id), `file:///mnt/kith/spaces/${id}`);
  assert.equal(spaceRemoteUrl('s3://bucket/home?region=eu-west-1', id), `s3://bucket/home/spaces/${id}?region=eu-west-1`);
  assert.equal(spaceRemoteUrl('https://relay.example.com/family', id), `https://relay.example.com/${id}`);
  assert.equal(spaceRemoteUrl('http://127.0.0.1:8080/base/family/', id), `http://127.0.0.1:8080/base/${id}`);
  assert.throws(() => spaceRemoteUrl('https://relay.example.com/', id), { code: 'KITH_BAD_REMOTE_URL' });
  assert.throws(() => spaceRemoteUrl('/x', '../etc'), { code: 'KITH_BAD_INPUT' });
});

test('nodeSpaceRemotes opens a folder space under the vault folder, creating it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kith-space-remotes-'));
  try {
    const spaces = nodeSpaceRemotes();
    const url = spaces.urlFor(join(dir, 'vault'), id);
    const remote = await spaces.open(url);
    await remote.put('members/000000000001', new Uint8Array([1]), { ifAbsent: true });
    assert.ok((await stat(join(dir, 'vault', 'spaces', id))).isDirectory());
    assert.deepEqual(await remote.get('members/000000000001'), new Uint8Array([1]));
    await remote.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
