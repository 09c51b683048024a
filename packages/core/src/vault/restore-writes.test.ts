import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import type { Remote } from '../ports/remote.js';
import { sealedIdentityKey } from '../spaces/person.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { openMemoryStore } from '../testing/memory-store.js';
import { Vault } from './vault.js';
import { founded } from './founded.test.support.js';

/** `remote` whose gets and puts answer a macrotask later, noting when each starts and ends ("start get key", "end put key"). */
function timeline(remote: Remote, events: string[], failPut?: (key: string) => boolean): Remote {
  return new Proxy(remote, {
    get(target, p, receiver) {
      const v: unknown = Reflect.get(target, p, receiver);
      if (p !== 'get' && p !== 'put') return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      return async (key: string, ...rest: unknown[]) => {
        events.push(`start ${p} ${key}`);
        await new Promise((resolve) => setTimeout(resolve, 1));
        try {
          if (p === 'put' && failPut?.(key)) throw new KithError(ErrorCode.RemoteUnavailable, `refused ${key}`);
          return await (v as (...a: unknown[]) => Promise<unknown>).call(target, key, ...rest);
        } finally {
          events.push(`end ${p} ${key}`);
        }
      };
    },
  });
}

/** The key sealed to a device at epoch 0 (`keys/0000000000/<keyId>/<device>`), not the recovery's or the previous epoch's. */
const isDeviceSeal = (key: string): boolean => /^keys\/0{10}\/.*[0-9a-f]{16}$/.test(key);

test('restore writes the key sealed to the new device and reads the identity sealed to the recovery key at once, not one after the other', async () => {
  const { objects, vault, recoveryCode } = await founded();
  await vault.close();
  const events: string[] = [];
  const restored = await Vault.restore({
    store: openMemoryStore(),
    remote: timeline(openMemoryRemote(objects), events),
    remoteUrl: 'memory:',
    recoveryCode,
    deps: { random: seededRandom(2) },
  });
  await restored.close();
  const sealPut = events.findIndex((e) => e.startsWith('start put ') && isDeviceSeal(e.slice('start put '.length)));
  assert.ok(sealPut >= 0, 'the key sealed to the new device was written');
  const sealKey = events[sealPut]!.slice('start put '.length);
  // The memory remote says a put-if-absent stored its bytes: the sealed key is not read back, nor is the registry entry.
  assert.equal(events.includes(`start get ${sealKey}`), false, `the sealed key was read back:\n${events.join('\n')}`);
  const entryPut = events.findIndex((e) => e.startsWith('start put registry/'));
  assert.ok(entryPut >= 0, 'the new device’s registry entry was written');
  const entryKey = events[entryPut]!.slice('start put '.length);
  assert.equal(events.indexOf(`start get ${entryKey}`, entryPut), -1, `the registry entry was read back:\n${events.join('\n')}`);
  // The identity read starts before the sealed key's write ends.
  const sealEnd = events.lastIndexOf(`end put ${sealKey}`);
  const identityRead = events.indexOf(`start get ${sealedIdentityKey('recovery')}`);
  assert.ok(identityRead >= 0 && sealEnd >= 0);
  assert.ok(identityRead < sealEnd, `the identity was read only after the sealed key was written:\n${events.join('\n')}`);
});

test('a restore whose sealed-key write fails rejects with that error, once the other write settled, and the home stays reusable', async () => {
  const { objects, vault, recoveryCode } = await founded();
  await vault.close();
  const events: string[] = [];
  const store = openMemoryStore();
  const failed = await Vault.restore({
    store,
    remote: timeline(openMemoryRemote(objects), events, isDeviceSeal),
    remoteUrl: 'memory:',
    recoveryCode,
    deps: { random: seededRandom(3) },
  }).then(
    () => undefined,
    (e: unknown) => ({ e, events: [...events] }),
  );
  assert.ok(failed && KithError.is(failed.e, ErrorCode.RemoteUnavailable) && /refused keys\//.test(failed.e.message));
  // Every call the restore started had ended when it rejected (the identity read among them).
  const started = failed.events.filter((e) => e.startsWith('start ')).map((e) => e.slice('start '.length));
  assert.ok(started.includes(`get ${sealedIdentityKey('recovery')}`));
  for (const call of started) assert.ok(failed.events.includes(`end ${call}`), `${call} outlived the restore`);
  // Nothing was kept: the same home restores.
  const again = await Vault.restore({ store, remote: openMemoryRemote(objects), remoteUrl: 'memory:', recoveryCode, deps: { random: seededRandom(4) } });
  await again.close();
});
