import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Remote } from '@kith/core';
import { openMemoryRemote } from '@kith/core/testing';
import { RelayRemote } from '@kith/relay';
import { createTestVault, spawnRelayProcess, until, type RelayProcess } from '@kith/relay-server/testing';
import { S3Remote } from '@kith/s3';
import { startS3rver, type S3rverProcess } from '@kith/s3/testing';
import { openRemote, registerRemoteScheme, remoteSchemes } from './index.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A put, a read and a listing through `remote`: it reaches its storage. */
async function roundTrip(remote: Remote): Promise<void> {
  await remote.put('heads/0123456789abcdef', bytes('hello'));
  assert.deepEqual(await remote.get('heads/0123456789abcdef'), bytes('hello'));
  assert.deepEqual(
    (await remote.list('heads/')).map((o) => o.key),
    ['heads/0123456789abcdef'],
  );
}

const refused = (code: string, message?: RegExp) => (e: unknown) => {
  assert.equal((e as { code?: string }).code, code);
  if (message) assert.match(String((e as Error).message), message);
  return true;
};

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'kith-open-remote-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('openRemote: folders', () => {
  test('a plain path and a file: URL open the same folder; create makes it', async () => {
    const folder = join(dir, 'nas', 'kith');
    await assert.rejects(openRemote(folder), refused('KITH_REMOTE_NOT_FOUND'));
    const made = await openRemote(folder, { create: true });
    await roundTrip(made);
    await made.close();
    const byUrl = await openRemote(pathToFileURL(folder).href);
    assert.deepEqual(await byUrl.get('heads/0123456789abcdef'), bytes('hello'));
    await byUrl.close();
  });
});

describe('openRemote: S3', () => {
  let s3: S3rverProcess;
  before(async () => {
    s3 = await startS3rver();
  });
  after(async () => s3?.stop());

  test('s3:// opens the bucket through @kith/s3, with the options given', async () => {
    const remote = await openRemote(s3.url(await s3.bucket(), 'vault'), { s3: { retry: { maxAttempts: 2, baseDelayMs: 1 } } });
    assert.ok(remote instanceof S3Remote);
    await roundTrip(remote);
    await remote.close();
  });
});

describe('openRemote: relay', () => {
  let relay: RelayProcess;
  before(async () => {
    relay = await spawnRelayProcess(join(dir, 'relay'));
  });
  after(async () => relay?.stop());

  test('http:// opens a relay remote that signs in with the key it is lent and is pushed to (ws on Node < 22)', async () => {
    const tv = await createTestVault(relay.url, 'family', { devices: 2 });
    const remote = await openRemote(tv.url, { relay: { pollMs: 600_000 } });
    assert.ok(remote instanceof RelayRemote);
    remote.useDeviceKey?.(tv.key(0));
    await roundTrip(remote);
    // Push, not polling (pollMs is ten minutes): the other device's write is told over the socket.
    let told = 0;
    const stop = remote.watch('heads/', () => told++);
    await until(() => remote.pushLive, 30_000, 'the push socket');
    await remote.list('heads/'); // the subscription is processed before this answer
    const other = tv.remote(1);
    await other.put('heads/fedcba9876543210', bytes('moved'));
    await until(() => told > 0, 30_000, 'a push');
    stop();
    await other.close();
    await remote.close();
  });

  test('a stranger gets nothing, and a port fetch refuses is refused before any request', async () => {
    const stranger = await openRemote(`${relay.url}/family`);
    await assert.rejects(stranger.list('heads/'), refused('KITH_REMOTE_AUTH'));
    await stranger.close();
    await assert.rejects(openRemote('http://127.0.0.1:6000/family'), refused('KITH_BAD_REMOTE_URL', /6000/));
  });
});

describe('openRemote: schemes', () => {
  test('an unknown scheme is KITH_BAD_REMOTE_URL, the known ones in its hint', async () => {
    await assert.rejects(openRemote('ftp://example.com/x'), (e: unknown) => {
      assert.equal((e as { code?: string }).code, 'KITH_BAD_REMOTE_URL');
      assert.equal((e as Error).message, 'unsupported remote URL ftp://example.com/x');
      assert.equal((e as { hint?: string }).hint, 'use a folder path, file:///path, s3://bucket/prefix or http(s)://relay/vault');
      return true;
    });
  });

  test('a registered scheme opens its own remotes, whatever the case of the URL; bad scheme names are refused', async () => {
    const objects = new Map<string, Uint8Array>();
    const asked: string[] = [];
    registerRemoteScheme('mem', async (url) => {
      asked.push(url);
      return openMemoryRemote(objects, url);
    });
    assert.ok(remoteSchemes().includes('mem'));
    await roundTrip(await openRemote('mem://one'));
    assert.deepEqual(await (await openRemote('MEM://two')).get('heads/0123456789abcdef'), bytes('hello'));
    assert.deepEqual(asked, ['mem://one', 'MEM://two']);
    await assert.rejects(openRemote('ftp://x/y'), (e: unknown) => /mem:\/\/…/.test(String((e as { hint?: string }).hint)));
    assert.throws(() => registerRemoteScheme('1bad', async () => openMemoryRemote()), refused('KITH_BAD_INPUT'));
    assert.throws(() => registerRemoteScheme('with space', async () => openMemoryRemote()), refused('KITH_BAD_INPUT'));
  });
});
