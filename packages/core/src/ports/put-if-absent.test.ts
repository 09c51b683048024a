import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { countingRemote } from './counting.js';
import { putIfAbsentHolds } from './put-if-absent.js';
import type { Remote } from './remote.js';

/** `remote` whose puts answer nothing, as an adapter that cannot tell (the caller must read back). */
const silent = (remote: Remote): Remote => ({ ...remote, put: async (k, b, o) => void (await remote.put(k, b, o)) });

test('put-if-absent that must hold: taken at the remote’s word where it says it stored, else read back; a rival’s bytes or none are false', async () => {
  const objects = new Map<string, Uint8Array>();
  const telling = countingRemote(openMemoryRemote(objects));
  assert.equal(await putIfAbsentHolds(telling, 'a/x', Uint8Array.of(1)), true);
  assert.deepEqual([telling.stats.puts, telling.stats.gets], [1, 0], 'no read-back after the remote said it stored');
  assert.equal(await putIfAbsentHolds(telling, 'a/x', Uint8Array.of(2)), false, 'a rival’s object stays');
  assert.deepEqual([telling.stats.puts, telling.stats.gets], [2, 1], 'read back when the put said nothing');
  assert.equal(await putIfAbsentHolds(telling, 'a/x', Uint8Array.of(1)), true, 'our own bytes found there hold');
  assert.deepEqual(objects.get('a/x'), Uint8Array.of(1));

  const quiet = countingRemote(silent(openMemoryRemote()));
  assert.equal(await putIfAbsentHolds(quiet, 'a/y', Uint8Array.of(3)), true);
  assert.equal(quiet.stats.gets, 1, 'a remote that does not say is read back');
  // A remote that drops the write yet resolves (a lying or broken one): the read-back finds nothing.
  const dropping: Remote = { ...openMemoryRemote(), put: async () => undefined };
  assert.equal(await putIfAbsentHolds(dropping, 'a/z', Uint8Array.of(4)), false);
});
