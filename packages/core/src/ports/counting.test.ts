import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ErrorCode, KithError } from '../base/errors.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { canGetMany, canWatch, decorateRemote, readsListed, usesDeviceKey } from './capabilities.js';
import { countingRemote, reportsTraffic, TrafficReports, type RemoteTraffic } from './counting.js';
import type { Remote, RemoteDeviceKey } from './remote.js';

/** A remote with every power, as a class with private state (methods must run on it, not on a wrapper). */
class PowerfulRemote implements Remote {
  readonly url = 'powerful:';
  readonly capabilities = { putIfAbsent: true, watch: true, listedReads: true } as const;
  readonly #inner = openMemoryRemote();
  readonly #traffic = new TrafficReports();
  lent: string[] = [];
  watched: string[] = [];
  put = (k: string, b: Uint8Array) => (this.#traffic.report({ request: 'put', bytesSent: b.length }), this.#inner.put(k, b));
  get = async (k: string) => {
    this.#traffic.report({ request: 'get' });
    this.#traffic.report({ request: 'get' }); // a retry: two requests for one verb
    return this.#inner.get(k);
  };
  head = (k: string) => this.#inner.head(k);
  list = (p: string) => this.#inner.list(p);
  delete = (k: string) => this.#inner.delete(k);
  close = async () => undefined;
  async getMany(keys: readonly string[]): Promise<Map<string, Uint8Array | null>> {
    return new Map(await Promise.all(keys.map(async (k) => [k, await this.#inner.get(k)] as const)));
  }
  watch(prefix: string, _onChange: () => void): () => void {
    this.watched.push(prefix);
    return () => undefined;
  }
  useDeviceKey(key: RemoteDeviceKey): void {
    this.lent.push(key.signer);
  }
  onTraffic(listener: (t: RemoteTraffic) => void): () => void {
    return this.#traffic.on(listener);
  }
}

const key = { vaultId: '0'.repeat(32), signer: 'recovery', signPub: new Uint8Array(32), sign: async () => new Uint8Array(64) };

describe('capabilities', () => {
  test('a plain remote has none; a relay-like one has each, and a decorator keeps them without naming them', async () => {
    const plain = openMemoryRemote();
    assert.deepEqual(
      [canGetMany(plain), canWatch(plain), usesDeviceKey(plain), readsListed(plain), reportsTraffic(plain)],
      [false, false, false, false, false],
    );
    const inner = new PowerfulRemote();
    const wrapped = decorateRemote<PowerfulRemote>(inner, { put: async () => undefined });
    for (const r of [inner, wrapped, countingRemote(wrapped)]) {
      assert.deepEqual([canGetMany(r), canWatch(r), usesDeviceKey(r), readsListed(r), reportsTraffic(r)], [true, true, true, true, true]);
    }
    // The powers run on the real remote (its private fields), whatever wraps it.
    await inner.put('a', Uint8Array.of(1));
    const counted = countingRemote(wrapped);
    assert.deepEqual(
      await counted.getMany(['a', 'b']),
      new Map([
        ['a', Uint8Array.of(1)],
        ['b', null],
      ]),
    );
    counted.useDeviceKey(key);
    counted.watch('heads/', () => undefined);
    assert.deepEqual([inner.lent, inner.watched], [['recovery'], ['heads/']]);
    assert.ok(counted instanceof PowerfulRemote);
    // The override is the decorator's: nothing reached the inner remote.
    await wrapped.put('b', Uint8Array.of(2));
    assert.equal(await inner.get('b'), null);
  });

  test('a member assigned to a decorated remote overrides, and the old one can be put back', async () => {
    const inner = openMemoryRemote();
    await inner.put('k', Uint8Array.of(1));
    const r = decorateRemote(inner, {});
    const real = r.get.bind(r);
    r.get = async () => null;
    assert.equal(await r.get('k'), null);
    r.get = real;
    assert.deepEqual(await r.get('k'), Uint8Array.of(1));
  });
});

describe('countingRemote', () => {
  test('a remote that reports its traffic is counted by its reports (retries included), not by its verbs', async () => {
    const r = countingRemote(new PowerfulRemote());
    await r.put('a', Uint8Array.of(1, 2, 3));
    await r.get('a');
    await r.list('');
    assert.deepEqual(r.stats, { puts: 1, gets: 2, heads: 0, lists: 0, deletes: 0, bytesSent: 3, bytesReceived: 0 });
  });

  test('calls refused for a bad name or an already fired signal are not requests', async () => {
    const r = countingRemote(openMemoryRemote());
    await assert.rejects(r.put('../x', Uint8Array.of(1)), (e: unknown) => KithError.is(e, ErrorCode.BadName));
    await assert.rejects(r.list('/x'), (e: unknown) => KithError.is(e, ErrorCode.BadName));
    await assert.rejects(r.get('x', { signal: AbortSignal.abort() }), (e: unknown) => KithError.is(e, ErrorCode.Aborted));
    assert.deepEqual(r.stats, { puts: 0, gets: 0, heads: 0, lists: 0, deletes: 0, bytesSent: 0, bytesReceived: 0 });
  });

  test('over a verb-per-request remote, the counters add up to the calls made and the bytes moved', async () => {
    const op = fc.oneof(
      fc.record({ verb: fc.constant('put' as const), k: fc.integer({ min: 0, max: 3 }), n: fc.integer({ min: 0, max: 64 }) }),
      fc.record({ verb: fc.constantFrom('get' as const, 'head' as const, 'delete' as const), k: fc.integer({ min: 0, max: 3 }) }),
      fc.record({ verb: fc.constant('list' as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
        const objects = new Map<string, Uint8Array>();
        const r = countingRemote(openMemoryRemote(objects));
        const want = { puts: 0, gets: 0, heads: 0, lists: 0, deletes: 0, bytesSent: 0, bytesReceived: 0 };
        for (const o of ops) {
          if (o.verb === 'list') {
            await r.list('');
            want.lists++;
            continue;
          }
          const k = `k/${o.k}`;
          if (o.verb === 'put') {
            await r.put(k, new Uint8Array(o.n));
            want.puts++;
            want.bytesSent += o.n;
          } else if (o.verb === 'get') {
            want.bytesReceived += objects.get(k)?.length ?? 0;
            await r.get(k);
            want.gets++;
          } else if (o.verb === 'head') {
            await r.head(k);
            want.heads++;
          } else {
            await r.delete(k);
            want.deletes++;
          }
        }
        assert.deepEqual(r.stats, want);
      }),
      { numRuns: 50 },
    );
  });
});
