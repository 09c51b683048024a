/**
 * The small web app whose bundle the browser section weighs: create or open
 * a vault on IndexedDB, put, list, sync through the relay client. A password
 * is never used, so Argon2 (hash-wasm) must stay out of its main chunk.
 * @module
 */
import { Vault } from '@kith/core';
import { openIndexedDbStore } from '@kith/indexeddb';
import { openRelayRemote } from '@kith/relay';

export async function app(url: string, existing: boolean): Promise<unknown> {
  const store = await openIndexedDbStore('app');
  const remote = openRelayRemote(url);
  const vault = existing ? await Vault.open({ store, remote }) : (await Vault.create({ store, remote, remoteUrl: url, deviceName: 'web' })).vault;
  await vault.put('notes', 'a', { title: 'hello' });
  const listed = await vault.list('notes', { limit: 50 });
  await vault.sync();
  return listed.records;
}
