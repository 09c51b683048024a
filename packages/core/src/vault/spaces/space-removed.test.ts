import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, KithError } from '../../base/errors.js';
import { WarningCode } from '../../base/warnings.js';
import { invite, newPerson, World } from './people.test.support.js';

const ISO_TIME = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/;

test('a removed member is told: a KITH_REMOVED warning from sync() or pull() once (space, who, when), and KITH_REMOVED from members and writes', async () => {
  const world = new World();
  const a = await newPerson(world, 'ana', 1);
  const b = await newPerson(world, 'ben', 2);
  const c = await newPerson(world, 'cy', 3);
  try {
    await a.vault.spaces.create('Family');
    await invite(a.vault, 'Family', b.vault, 'writer', 'Ben');
    await invite(a.vault, 'Family', c.vault, 'writer', 'Cy');
    await a.vault.space('Family').put('notes', 'n1', { text: 'before' });
    await a.vault.sync();
    await b.vault.sync();
    await c.vault.sync();
    const members = await a.vault.spaces.members('Family');
    const ana = members.find((m) => m.role === 'admin')!.personId;
    for (const name of ['Ben', 'Cy']) await a.vault.spaces.remove('Family', members.find((m) => m.name === name)!.personId);

    for (const [v, how] of [
      [b.vault, 'sync'],
      [c.vault, 'pull'],
    ] as const) {
      const result = how === 'sync' ? await v.sync() : await v.pull();
      const removed = (result.warnings ?? []).filter((w) => w.code === WarningCode.Removed);
      assert.equal(removed.length, 1, `${how}() says it`);
      assert.match(removed[0]!.message, /"Family"/);
      assert.ok(removed[0]!.message.includes(ana), 'names who removed them');
      assert.match(removed[0]!.message, ISO_TIME, 'and when');
      const again = how === 'sync' ? await v.sync() : await v.pull();
      assert.ok(!(again.warnings ?? []).some((w) => w.code === WarningCode.Removed), 'said once');
      assert.deepEqual(await v.spaces.list(), []);
      await assert.rejects(
        v.spaces.members('Family'),
        (e: unknown) => KithError.is(e, ErrorCode.Removed) && e.reason === 'removed' && e.message.includes(ana) && ISO_TIME.test(e.message),
      );
      await assert.rejects(v.space('Family').put('notes', 'x', { text: 'still here?' }), { code: 'KITH_REMOVED', reason: 'removed' });
    }
  } finally {
    for (const p of [a, b, c]) await p.vault.close();
  }
});

test('an unknown space: KITH_NOT_FOUND, reason unknown-space, with a hint that names no CLI command', async () => {
  const world = new World();
  const a = await newPerson(world, 'ana', 1);
  try {
    for (const call of [() => a.vault.spaces.members('nope'), () => a.vault.space('nope').put('notes', 'n1', {})]) {
      await assert.rejects(call(), (e: unknown) => KithError.is(e, ErrorCode.NotFound) && e.reason === 'unknown-space' && !/kith /.test(e.hint ?? ''));
    }
  } finally {
    await a.vault.close();
  }
});
