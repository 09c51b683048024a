import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../base/deps.js';
import type { Store, StoreTx } from '../ports/store.js';
import { newMemoryStoreData, openMemoryStore } from '../testing/memory-store.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { Vault } from '../vault/vault.js';
import { APPLY_ROUND } from './apply.js';
import { PULL_APPLY_OPS, PULL_CONCURRENCY } from './context.js';

/** What the pull's write transactions held at most: history entries per transaction, rows per putRecords, ids per getRecords. */
interface Peaks {
  logPerTx: number;
  rowsPerPut: number;
  idsPerGet: number;
}

/** A store whose write transactions report how much each one and each of its calls carried. */
function measuringStore(inner: Store, peaks: Peaks): Store {
  const tx = (t: StoreTx, log: { n: number }): StoreTx =>
    new Proxy(t, {
      get(target, key) {
        if (key === 'appendLog') {
          return (entries: Parameters<StoreTx['appendLog']>[0]) => {
            log.n += entries.length;
            peaks.logPerTx = Math.max(peaks.logPerTx, log.n);
            return target.appendLog(entries);
          };
        }
        if (key === 'putRecords') {
          return (rows: Parameters<StoreTx['putRecords']>[0]) => {
            peaks.rowsPerPut = Math.max(peaks.rowsPerPut, rows.length);
            return target.putRecords(rows);
          };
        }
        if (key === 'getRecords') {
          return (collection: string, ids: readonly string[]) => {
            peaks.idsPerGet = Math.max(peaks.idsPerGet, ids.length);
            return target.getRecords(collection, ids);
          };
        }
        const v = Reflect.get(target, key, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  return new Proxy(inner, {
    get(target, key) {
      if (key === 'write') return <T>(fn: (t: StoreTx) => Promise<T>) => target.write((t) => fn(tx(t, { n: 0 })));
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

test('a replay applies at most PULL_APPLY_OPS ops per transaction and merges them in rounds of APPLY_ROUND', async () => {
  const objects = new Map<string, Uint8Array>();
  const deps = { random: seededRandom(21) };
  const { vault: a, recoveryCode } = await Vault.create({
    store: openMemoryStore(newMemoryStoreData()),
    remote: openMemoryRemote(objects),
    remoteUrl: 'memory:',
    deps,
  });
  // One fetched batch of PULL_CONCURRENCY segments holding more ops than one transaction may apply.
  const perSegment = Math.ceil((PULL_APPLY_OPS * 1.5) / PULL_CONCURRENCY);
  let n = 0;
  for (let s = 0; s < PULL_CONCURRENCY; s++) {
    await a.batch((b) => {
      for (let i = 0; i < perSegment; i++, n++) b.put('notes', `n${n}`, { i: n, body: 'x'.repeat(40) });
    });
    assert.equal((await a.push()).pushed, perSegment);
  }
  const peaks: Peaks = { logPerTx: 0, rowsPerPut: 0, idsPerGet: 0 };
  const b = await Vault.restore({
    store: measuringStore(openMemoryStore(newMemoryStoreData()), peaks),
    remote: openMemoryRemote(objects),
    remoteUrl: 'memory:',
    recoveryCode,
    deps,
  });
  assert.equal((await b.pull()).pulled, n, 'every op applied');
  assert.equal((await b.list('notes', { limit: 1 })).records.length, 1);
  assert.deepEqual(await b.get('notes', `n${n - 1}`), { id: `n${n - 1}`, i: n - 1, body: 'x'.repeat(40) });
  assert.ok(peaks.logPerTx <= PULL_APPLY_OPS, `history entries in one transaction: ${peaks.logPerTx}`);
  assert.ok(peaks.rowsPerPut <= APPLY_ROUND, `rows in one putRecords: ${peaks.rowsPerPut}`);
  assert.ok(peaks.idsPerGet <= APPLY_ROUND, `ids in one getRecords: ${peaks.idsPerGet}`);
  await a.close();
  await b.close();
});
