/**
 * @module ports/put-if-absent
 * Writing an object that only this writer's bytes may occupy (a registry entry, a sealed key, a vault
 * header): put-if-absent, then make sure the key holds these very bytes. A remote that says so in the
 * put's answer (see PutOutcome) is taken at its word; any other is read back. That answer saves a round
 * trip on each such write (two in a restore, on the way to its first sync). A remote that lied could as
 * well answer the read-back with our bytes and serve others different ones: the read-back never guarded
 * against that (signatures and chained hashes do), only against a rival writer, which the answer tells.
 */
import { bytesEqual } from '../crypto/bytes.js';
import type { Remote, RemoteCallOptions } from './remote.js';

/** Puts `bytes` under `key` unless an object is there; true when the key then holds these bytes, false when it holds other ones or none. */
export async function putIfAbsentHolds(remote: Remote, key: string, bytes: Uint8Array, o: RemoteCallOptions = {}): Promise<boolean> {
  const outcome = await remote.put(key, bytes, { ...o, ifAbsent: true });
  return outcome?.stored === true || remoteHolds(remote, key, bytes, o);
}

/** Whether the remote's object under `key` is these very bytes (read back). */
export async function remoteHolds(remote: Remote, key: string, bytes: Uint8Array, o: RemoteCallOptions = {}): Promise<boolean> {
  const stored = await remote.get(key, o);
  return stored !== null && bytesEqual(stored, bytes);
}
