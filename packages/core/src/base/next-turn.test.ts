import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextTurn } from './next-turn.js';

test('nextTurn lets a task of the event loop run, where awaiting a settled promise does not', async () => {
  let ran = false;
  setImmediate(() => (ran = true));
  await Promise.resolve();
  assert.equal(ran, false);
  await nextTurn();
  assert.equal(ran, true);
});

test('without setImmediate (as in a browser) nextTurn goes through a message channel, which does not keep the process alive', async () => {
  const saved = globalThis.setImmediate;
  try {
    (globalThis as { setImmediate?: unknown }).setImmediate = undefined;
    for (let i = 0; i < 3; i++) await nextTurn();
  } finally {
    globalThis.setImmediate = saved;
  }
});
