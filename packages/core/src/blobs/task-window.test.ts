import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Probe, TaskWindow } from './task-window.js';

const tick = () => new Promise((r) => setImmediate(r));

test('a task window runs at most its size at once; the first failure surfaces after the others settle', async () => {
  const window = new TaskWindow(3);
  let running = 0;
  let peak = 0;
  const finishers: (() => void)[] = [];
  const task = () => async () => {
    running++;
    peak = Math.max(peak, running);
    await new Promise<void>((r) => finishers.push(r));
    running--;
  };
  const adding = (async () => {
    for (let i = 0; i < 7; i++) await window.add(task());
  })();
  for (let i = 0; i < 20 && finishers.length < 7; i++) {
    await tick();
    finishers.shift()?.();
  }
  await adding;
  while (finishers.length) finishers.shift()!();
  await window.drain();
  assert.equal(peak, 3);

  const failing = new TaskWindow(2);
  let slowDone = false;
  await failing.add(async () => {
    await new Promise((r) => setTimeout(r, 30));
    slowDone = true;
  });
  await failing.add(async () => Promise.reject(new Error('boom')));
  await tick();
  await assert.rejects(
    failing.add(async () => undefined),
    /boom/,
  );
  assert.ok(slowDone, 'the failure is reported only once nothing else runs');
  await assert.rejects(failing.drain(), /boom/);
});

test('a probe checks every chunk until `patience` misses in a row, then one in `every`, and every chunk again after a hit', () => {
  const p = new Probe(3, 4);
  const seen: boolean[] = [];
  for (let i = 0; i < 12; i++) {
    const probe = p.next();
    seen.push(probe);
    if (probe) p.report(i === 10);
  }
  // 3 misses, then every 4th (the 7th chunk misses too); the 11th hits; the 12th is checked again.
  assert.deepEqual(seen, [true, true, true, false, false, false, true, false, false, false, true, true]);
});
