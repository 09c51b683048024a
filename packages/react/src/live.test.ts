import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Live } from './live.js';

/** A load whose calls the test settles by hand, in any order. */
function manualLoads<T>() {
  const calls: { resolve: (v: T) => void; reject: (e: Error) => void }[] = [];
  const load = () => new Promise<T>((resolve, reject) => calls.push({ resolve, reject }));
  return { calls, load };
}

/** A watch the test fires by hand, counting starts and stops. */
function manualWatch() {
  const w = { started: 0, stopped: 0, fire: () => {} };
  const watch = (reload: () => void) => {
    w.started++;
    w.fire = reload;
    return () => void w.stopped++;
  };
  return { w, watch };
}

const tick = () => new Promise((r) => setImmediate(r));

test('loads when the first listener comes, reloads on the watch, stops when the last leaves', async () => {
  const { calls, load } = manualLoads<string[]>();
  const { w, watch } = manualWatch();
  const live = new Live(load, watch);
  assert.equal(calls.length, 0, 'nothing loads before anyone listens');
  assert.equal(live.getSnapshot().loading, true);
  let notified = 0;
  const off1 = live.subscribe(() => notified++);
  const off2 = live.subscribe(() => notified++);
  assert.equal(w.started, 1);
  calls[0]!.resolve(['a']);
  await tick();
  assert.deepEqual(live.getSnapshot().data, ['a']);
  assert.equal(live.getSnapshot().loading, false);
  assert.equal(notified, 2);
  w.fire();
  calls[1]!.resolve(['a', 'b']);
  await tick();
  assert.deepEqual(live.getSnapshot().data, ['a', 'b']);
  off1();
  assert.equal(w.stopped, 0);
  off2();
  off2();
  assert.equal(w.stopped, 1, 'the last listener stops the watch once');
});

test('an equal result keeps the same snapshot object and notifies no one', async () => {
  const { calls, load } = manualLoads<{ id: string; n: number }[]>();
  const { w, watch } = manualWatch();
  const live = new Live(load, watch);
  let notified = 0;
  live.subscribe(() => notified++);
  calls[0]!.resolve([{ id: 'a', n: 1 }]);
  await tick();
  const first = live.getSnapshot();
  w.fire();
  calls[1]!.resolve([{ id: 'a', n: 1 }]);
  await tick();
  assert.equal(live.getSnapshot(), first);
  assert.equal(notified, 1);
  w.fire();
  calls[2]!.resolve([{ id: 'a', n: 2 }]);
  await tick();
  assert.notEqual(live.getSnapshot(), first);
  assert.equal(notified, 2);
});

test('only the newest load counts: an older one settling late is dropped', async () => {
  const { calls, load } = manualLoads<string>();
  const { w, watch } = manualWatch();
  const live = new Live(load, watch);
  live.subscribe(() => {});
  w.fire();
  calls[1]!.resolve('new');
  await tick();
  calls[0]!.resolve('old');
  await tick();
  assert.equal(live.getSnapshot().data, 'new');
});

test('a failed load keeps the data and reports the error until a load succeeds; nothing applies after the last listener left', async () => {
  const { calls, load } = manualLoads<string>();
  const { w, watch } = manualWatch();
  const live = new Live(load, watch);
  const off = live.subscribe(() => {});
  calls[0]!.resolve('a');
  await tick();
  w.fire();
  calls[1]!.reject(new Error('offline'));
  await tick();
  assert.equal(live.getSnapshot().data, 'a');
  assert.equal(live.getSnapshot().error?.message, 'offline');
  live.getSnapshot().reload();
  calls[2]!.resolve('b');
  await tick();
  assert.equal(live.getSnapshot().error, null);
  w.fire();
  off();
  calls[3]!.resolve('late');
  await tick();
  assert.equal(live.getSnapshot().data, 'b');
});

test('a load that throws synchronously is an error, not a crash', async () => {
  const live = new Live<string>(
    () => {
      throw new Error('bad query');
    },
    () => () => {},
  );
  live.subscribe(() => {});
  await tick();
  assert.equal(live.getSnapshot().error?.message, 'bad query');
  assert.equal(live.getSnapshot().loading, false);
});
