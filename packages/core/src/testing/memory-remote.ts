/**
 * @module testing/memory-remote
 * A Remote held in memory: the reference implementation of the Remote
 * contract and a fast remote for core tests. Several clients over one
 * `Map` see the same objects, like devices sharing a bucket.
 */
import { bytesToHex, sha256Sync } from '../crypto/index.js';
import { assertRemoteKey, assertRemotePrefix, throwIfAborted, type Remote } from '../ports/remote.js';

export function openMemoryRemote(objects: Map<string, Uint8Array> = new Map(), url = 'memory:'): Remote {
  // Content-derived etags, so every client over the same objects agrees.
  const etag = (b: Uint8Array): string => bytesToHex(sha256Sync(b).subarray(0, 8));
  return {
    url,
    capabilities: { putIfAbsent: true, watch: false },
    async put(key, bytes, o = {}) {
      assertRemoteKey(key);
      throwIfAborted(o.signal);
      if (o.ifAbsent && objects.has(key)) return;
      objects.set(key, bytes.slice());
      return o.ifAbsent ? { stored: true } : undefined;
    },
    async get(key, o = {}) {
      assertRemoteKey(key);
      throwIfAborted(o.signal);
      const b = objects.get(key);
      if (!b) return null;
      return o.range ? b.slice(o.range.offset, o.range.offset + o.range.length) : b.slice();
    },
    async head(key, o = {}) {
      assertRemoteKey(key);
      throwIfAborted(o.signal);
      const b = objects.get(key);
      return b ? { key, size: b.length, etag: etag(b) } : null;
    },
    async list(prefix, o = {}) {
      assertRemotePrefix(prefix);
      throwIfAborted(o.signal);
      const keys = [...objects.keys()].filter((k) => k.startsWith(prefix) && (o.after === undefined || k > o.after)).sort();
      return keys.slice(0, o.limit ?? keys.length).map((key) => ({ key, size: objects.get(key)!.length, etag: etag(objects.get(key)!) }));
    },
    async delete(key, o = {}) {
      assertRemoteKey(key);
      throwIfAborted(o.signal);
      objects.delete(key);
    },
    async close() {},
  };
}
