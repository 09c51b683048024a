import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ErrorCode, KithError, Vault } from '@kith/core';
import { openMemoryRemote, seededRandom } from '@kith/core/testing';
import { openSqliteStore } from './index.js';
import { inTempDir } from './sqlite-store.test.support.js';

type Step = { kind: 'put' | 'patch'; id: string; fields: Record<string, string | number> };

/**
 * A batch of many of the vault's merge rounds (250 writes each; 2,000 is a
 * round's edge at any round size dividing it), with records written twice
 * inside one round (2,001 and 2,100) and across a round's edge (1,999 and 2,001), puts on
 * records that exist and patches of records put earlier in the batch.
 */
function steps(): Step[] {
  const out: Step[] = [];
  for (let i = 0; i < 3000; i++) out.push({ kind: 'put', id: `r${i}`, fields: { title: `t${i}`, n: i } });
  for (let i = 0; i < 1500; i++) out.push({ kind: 'patch', id: `r${i}`, fields: { title: `edited ${i}` } });
  out.splice(1999, 0, { kind: 'put', id: 'dup', fields: { n: 1 } });
  out.splice(2001, 0, { kind: 'put', id: 'dup', fields: { n: 2, extra: 'x' } });
  out.splice(2100, 0, { kind: 'patch', id: 'dup', fields: { n: 3 } });
  out.splice(2200, 0, { kind: 'put', id: 'r2150', fields: { replaced: 1 } });
  return out;
}

async function withVault(dir: string, name: string, fn: (vault: Vault) => Promise<void>): Promise<void> {
  const { vault } = await Vault.create({
    store: await openSqliteStore(join(dir, name, 'kith.db')),
    remote: openMemoryRemote(new Map()),
    remoteUrl: 'memory:',
    deps: { random: seededRandom(7) },
  });
  try {
    await fn(vault);
  } finally {
    await vault.close();
  }
}

/** What a vault holds, without the stamps (which differ between vaults). */
async function contents(vault: Vault) {
  const log = (await vault.log()).map((e) => `${e.collection}/${e.id} ${e.kind} ${e.fields.join(',')}`);
  return { records: (await vault.list('notes')).records, log, pending: (await vault.status()).pending, conflicts: await vault.conflicts() };
}

describe('vault batches on the sqlite store', () => {
  test('a batch of many merge rounds leaves what the same writes one at a time leave', async () => {
    await inTempDir(async (dir) => {
      let one: Awaited<ReturnType<typeof contents>> | undefined;
      await withVault(dir, 'one', async (vault) => {
        for (const s of steps()) await (s.kind === 'put' ? vault.put('notes', s.id, s.fields) : vault.patch('notes', s.id, s.fields));
        one = await contents(vault);
      });
      await withVault(dir, 'batch', async (vault) => {
        const n = await vault.batch((b) => steps().forEach((s) => (s.kind === 'put' ? b.put('notes', s.id, s.fields) : b.patch('notes', s.id, s.fields))));
        assert.equal(n, steps().length);
        const batched = await contents(vault);
        assert.deepEqual(batched, one);
        assert.equal(batched.pending, steps().length);
        assert.deepEqual(await vault.get('notes', 'dup'), { id: 'dup', n: 3, extra: 'x' });
        assert.deepEqual(await vault.get('notes', 'r2150'), { id: 'r2150', replaced: 1 });
      });
    });
  });

  test('fields named after Object.prototype members stay fields when one round puts a record and then writes it again', async () => {
    await inTempDir(async (dir) => {
      await withVault(dir, 'v', async (vault) => {
        // Built as JSON.parse builds objects: "__proto__" as an own key.
        const tricky = JSON.parse('{"__proto__":{"p":1},"constructor":2,"toString":"s"}') as Record<string, unknown>;
        await vault.batch((b) => {
          b.put('notes', 'a', { title: 'a' });
          b.patch('notes', 'a', tricky as never);
          b.put('notes', 'b', tricky as never);
          b.put('notes', 'b', { ...(tricky as object), hasOwnProperty: 3 });
          b.put('notes', 'c', { title: 'c' });
          b.put('notes', 'c', tricky as never);
        });
        const expected = (extra: Record<string, unknown>): Record<string, unknown> =>
          Object.assign(JSON.parse('{"__proto__":{"p":1},"constructor":2,"toString":"s"}') as Record<string, unknown>, extra);
        const own = (doc: unknown): [string, unknown][] => Object.entries(doc as object).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
        assert.deepEqual(own(await vault.get('notes', 'a')), own(expected({ title: 'a', id: 'a' })));
        assert.deepEqual(own(await vault.get('notes', 'b')), own(expected({ hasOwnProperty: 3, id: 'b' })));
        assert.deepEqual(own(await vault.get('notes', 'c')), own(expected({ id: 'c' })));
        assert.equal(({} as Record<string, unknown>)['p'], undefined, 'no prototype was changed');
        const log = (await vault.log()).filter((e) => e.collection === 'notes').map((e) => `${e.id} ${e.kind} ${[...e.fields].sort().join(',')}`);
        assert.deepEqual(log, [
          'a put title',
          'a patch __proto__,constructor,toString',
          'b put __proto__,constructor,toString',
          'b put __proto__,constructor,hasOwnProperty,toString',
          'c put title',
          'c put __proto__,constructor,title,toString', // a put lists the fields it unsets too
        ]);
      });
    });
  });

  test('a batch that fails in a late round keeps nothing of the earlier rounds', async () => {
    await inTempDir(async (dir) => {
      await withVault(dir, 'v', async (vault) => {
        await vault.put('notes', 'kept', { n: 0 });
        const before = await contents(vault);
        await assert.rejects(
          vault.batch((b) => {
            for (let i = 0; i < 4500; i++) b.put('notes', `r${i}`, { n: i });
            b.patch('notes', 'missing', { n: 1 });
          }),
          (e: unknown) => KithError.is(e, ErrorCode.NotFound),
        );
        assert.deepEqual(await contents(vault), before);
      });
    });
  });
});
