import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../base/deps.js';
import type { Store } from '../ports/store.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { openMemoryStore } from '../testing/memory-store.js';
import { Vault } from './vault.js';
import type { Doc } from './vault-types.js';

/** `store` whose next read, once armed, answers only when released: a slow read, as a busy or paused tab's IndexedDB gives. */
function slowOnce(store: Store): { store: Store; arm(): void; release(): void } {
  let armed = false;
  let release = (): void => undefined;
  const held = new Promise<void>((r) => (release = r));
  const slowed: Store = Object.assign(Object.create(store) as Store, {
    read: async <T>(fn: Parameters<Store['read']>[0]): Promise<T> => {
      const out = (await store.read(fn)) as T; // the rows as they are now...
      if (armed) {
        armed = false;
        await held; // ...handed over later
      }
      return out;
    },
  });
  return { store: slowed, arm: () => void (armed = true), release: () => release() };
}

test('a subscription hands on last the records of a listing that began after the last change, whatever order its reads end in', async () => {
  const gate = slowOnce(openMemoryStore());
  const { vault } = await Vault.create({ store: gate.store, remote: openMemoryRemote(), remoteUrl: 'memory:', deps: { random: seededRandom(5) } });
  const seen: Doc[][] = [];
  const off = vault.subscribe('notes', {}, (records) => seen.push(records));
  try {
    const until = async (ok: () => boolean, what: string): Promise<void> => {
      for (let i = 0; i < 500 && !ok(); i++) await new Promise((r) => setTimeout(r, 2));
      assert.ok(ok(), what);
    };
    await until(() => seen.length === 1, 'the first listing');
    gate.arm();
    await vault.put('notes', 'a', { n: 1 }); // its listing reads now, and answers late
    await vault.put('notes', 'b', { n: 2 }); // this one's listing must not be overtaken by the late one
    await new Promise((r) => setTimeout(r, 20));
    gate.release();
    await until(() => seen.at(-1)?.length === 2, `the last listing holds both records: ${JSON.stringify(seen)}`);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(
      seen.at(-1)!.map((d) => d.id),
      ['a', 'b'],
    );
  } finally {
    off();
    await vault.close();
  }
});
