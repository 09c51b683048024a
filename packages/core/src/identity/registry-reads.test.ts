import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../base/deps.js';
import { remoteKeys } from '../format/index.js';
import type { Remote } from '../ports/remote.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { openMemoryStore } from '../testing/memory-store.js';
import { Vault } from '../vault/vault.js';
import { readVault } from './join.js';
import { founded } from '../vault/founded.test.support.js';

/** `remote` whose reads answer a macrotask later, noting when each starts and ends ("start key", "end key"). */
function timeline(remote: Remote, events: string[]): Remote {
  return new Proxy(remote, {
    get(target, p, receiver) {
      const v: unknown = Reflect.get(target, p, receiver);
      if (p !== 'get') return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      return async (key: string, o?: unknown) => {
        events.push(`start ${key}`);
        await new Promise((resolve) => setTimeout(resolve, 1));
        const got = await target.get(key, o as Parameters<Remote['get']>[1]);
        events.push(`end ${key}`);
        return got;
      };
    },
  });
}

test('a newcomer reads the registry entries together, not one round trip per entry, and verifies them in order', async () => {
  const { objects, vault, recoveryCode } = await founded();
  for (let i = 0; i < 3; i++) {
    const d = await Vault.restore({
      store: openMemoryStore(),
      remote: openMemoryRemote(objects),
      remoteUrl: 'memory:',
      recoveryCode,
      deps: { random: seededRandom(2 + i) },
    });
    await d.close();
  }
  await vault.close();
  const events: string[] = [];
  const { registry } = await readVault(timeline(openMemoryRemote(objects), events));
  assert.equal(registry.seq, 4);
  const entries = events.filter((e) => e.includes(remoteKeys.registryPrefix));
  const firstEnd = entries.findIndex((e) => e.startsWith('end '));
  assert.deepEqual(
    entries.slice(0, firstEnd).map((e) => e.slice('start '.length)),
    [1, 2, 3, 4].map((s) => remoteKeys.registryEntry(s)),
    entries.join('\n'),
  );
});

test('a restore whose registry grew after it read it appends after the new entry: its first try fails the read-back, the next catches up', async () => {
  const { objects, vault, recoveryCode } = await founded();
  const inner = openMemoryRemote(objects);
  let raced = false;
  // Another device restores between this one's registry read and its append (while it lists the heads).
  const racing = new Proxy(inner, {
    get(target, p, receiver) {
      const v: unknown = Reflect.get(target, p, receiver);
      if (p !== 'list') return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      return async (prefix: string, o?: Parameters<Remote['list']>[1]) => {
        if (prefix === remoteKeys.headsPrefix && !raced) {
          raced = true;
          const other = await Vault.restore({
            store: openMemoryStore(),
            remote: openMemoryRemote(objects),
            remoteUrl: 'memory:',
            recoveryCode,
            deps: { random: seededRandom(9) },
          });
          await other.close();
        }
        return target.list(prefix, o);
      };
    },
  });
  const late = await Vault.restore({ store: openMemoryStore(), remote: racing, remoteUrl: 'memory:', recoveryCode, deps: { random: seededRandom(3) } });
  assert.ok(raced);
  const { registry } = await readVault(openMemoryRemote(objects));
  assert.equal(registry.seq, 3);
  assert.ok(registry.device(late.deviceId), 'the late device is registered after the racing one');
  await late.put('notes', 'x', { v: 1 });
  await late.sync();
  await vault.sync();
  assert.deepEqual(await vault.get('notes', 'x'), { v: 1, id: 'x' });
  await late.close();
  await vault.close();
});
