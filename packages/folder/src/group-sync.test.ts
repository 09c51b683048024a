import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupSync } from './group-sync.js';

/** An fsync whose calls are recorded and finished by hand, so the test sees every interleaving. */
function manualFsync() {
  const calls: { dir: string; finish: (e?: Error) => void }[] = [];
  const fsync = (dir: string): Promise<void> => new Promise((resolve, reject) => calls.push({ dir, finish: (e) => (e ? reject(e) : resolve()) }));
  return { calls, fsync };
}
const tick = () => new Promise((r) => setImmediate(r));

test('callers that arrive while an fsync runs share the next one; none resolves on an fsync that started before it', async () => {
  const { calls, fsync } = manualFsync();
  const g = new GroupSync(fsync);
  const done: string[] = [];
  const track = (name: string, p: Promise<void>) => void p.then(() => done.push(name));
  track('a', g.sync('/d'));
  track('b', g.sync('/d')); // same tick: joins a's fsync, which has not started
  await tick();
  assert.equal(calls.length, 1, 'one fsync for a and b');
  track('c', g.sync('/d')); // arrives while it runs: must wait for a fresh one
  track('d', g.sync('/d'));
  track('other', g.sync('/e')); // another directory is synced independently
  await tick();
  assert.deepEqual(
    calls.map((c) => c.dir),
    ['/d', '/e'],
  );
  calls[0]!.finish();
  await tick();
  assert.deepEqual(done.sort(), ['a', 'b']);
  assert.equal(calls.length, 3, 'c and d share the second fsync of /d, started only now');
  assert.equal(calls[2]!.dir, '/d');
  calls[2]!.finish();
  calls[1]!.finish();
  await tick();
  assert.deepEqual(done.sort(), ['a', 'b', 'c', 'd', 'other']);
});

test('a failed fsync rejects the callers that shared it; the next callers get a fresh one', async () => {
  const { calls, fsync } = manualFsync();
  const g = new GroupSync(fsync);
  const first = g.sync('/d');
  await tick();
  const second = g.sync('/d');
  calls[0]!.finish(new Error('EIO'));
  await assert.rejects(first, /EIO/);
  await tick();
  assert.equal(calls.length, 2);
  calls[1]!.finish();
  await second;
  const third = g.sync('/d');
  await tick();
  assert.equal(calls.length, 3, 'an idle directory starts a new fsync at once');
  calls[2]!.finish();
  await third;
});
