import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../base/deps.js';
import type { Remote } from '../ports/remote.js';
import type { Store } from '../ports/store.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { openMemoryStore } from '../testing/memory-store.js';
import { Vault } from '../vault/vault.js';

const T0 = 1_767_225_600_000;
let tick = 0;
const deps = (seed: number) => ({ random: seededRandom(seed), now: () => T0 + ++tick });

/** `remote`, noting each call as it is made ("get key"). */
function logged(remote: Remote, calls: string[]): Remote {
  return new Proxy(remote, {
    get(target, p, receiver) {
      const v: unknown = Reflect.get(target, p, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        if (typeof args[0] === 'string') calls.push(`${String(p)} ${args[0]}`);
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** A memory store that streams a bootstrap as the SQLite store does (bulkLoad), so the chunks are read through the prefetch. */
function bulkLoading(store: Store): Store {
  return new Proxy(store, {
    get(target, p, receiver) {
      if (p === 'bulkLoad') return <T>(fn: Parameters<Store['write']>[0]) => target.write(fn) as Promise<T>;
      const v: unknown = Reflect.get(target, p, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

test('restore reads the snapshot listing, manifest and first chunks while the device writes itself in; the first pull starts from them without reading them again', async () => {
  const objects = new Map<string, Uint8Array>();
  const { vault, recoveryCode } = await Vault.create({ store: openMemoryStore(), remote: openMemoryRemote(objects), remoteUrl: 'memory:', deps: deps(1) });
  await vault.batch((b) => {
    for (let i = 0; i < 400; i++) b.put('notes', `n${String(i).padStart(4, '0')}`, { title: `note ${i}`, body: 'z'.repeat(400) });
  });
  await vault.sync();
  const { snapshot } = await vault.snapshot();
  await vault.close();
  const chunkReads = (calls: string[]): string[] => calls.filter((c) => c.startsWith('get blobs/chunks/'));

  const calls: string[] = [];
  const fresh = await Vault.restore({
    store: bulkLoading(openMemoryStore()),
    remote: logged(openMemoryRemote(objects), calls),
    remoteUrl: 'memory:',
    recoveryCode,
    deps: deps(2),
    snapshotEvery: false,
  });
  try {
    // Read ahead as soon as the vault key is known: before the registry entry and the key seal are written.
    const listed = calls.indexOf('list snapshots/');
    const firstPut = calls.findIndex((c) => c.startsWith('put '));
    assert.ok(listed >= 0 && listed < firstPut, calls.join('\n'));
    const pulled = await fresh.pull();
    assert.ok(pulled.pulled < 400 && !pulled.warnings, JSON.stringify(pulled));
    assert.equal((await fresh.list('notes')).records.length, 400);
    // Each object read once: what was read ahead is what the bootstrap used.
    assert.deepEqual(
      calls.filter((c) => c === 'list snapshots/' || c === `get ${snapshot}`),
      ['list snapshots/', `get ${snapshot}`],
    );
    const chunks = chunkReads(calls);
    assert.ok(chunks.length > 1, calls.join('\n'));
    assert.equal(new Set(chunks).size, chunks.length, 'a chunk read twice');
  } finally {
    await fresh.close();
  }
});
