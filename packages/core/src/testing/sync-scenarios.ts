/**
 * @module testing/sync-scenarios
 * End-to-end sync scenarios that every remote runs with a real store:
 * two devices, idle cost, tampering by the remote, interrupted pushes and
 * multi-device convergence. Tampering goes through a second client of the
 * same remote location, as a malicious remote operator would.
 */
import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Vault } from '../vault/vault.js';
import { KithError, ErrorCode, isIntegrityError } from '../base/errors.js';
import { encodePayload } from '../model/ops.js';
import { generateDeviceKeys, newEpochKey, recoveryKeys, sha256, signingKeyFromSeed } from '../crypto/index.js';
import { base64 } from '@scure/base';
import { seededRandom } from '../base/deps.js';
import { stampTime } from '../model/hlc.js';
import { decodeSegment, encodeHead, encodeRegistryEntry, encodeSegment, remoteKeys } from '../format/index.js';
import { sealKeyTo } from '../identity/epoch-seals.js';
import type { Remote } from '../ports/remote.js';
import type { BatchGetRemote } from '../ports/capabilities.js';
import { countingRemote, type CountingRemote } from '../ports/counting.js';
import type { Store } from '../ports/store.js';
import type { Doc } from '../vault/vault-types.js';
import { AUDIT_INTERVAL_MS } from '../sync/repair.js';
import type { JsonObject } from '../model/json.js';
import { WarningCode } from '../base/warnings.js';
import type { CompactionPolicy } from '../snapshot/compact-options.js';

/** What a remote's test gives the scenarios. */
export interface ScenarioHarness {
  /**
   * A new client for a remote location (each device gets its own client).
   * Calls with the same `location` name reach the same objects; a harness
   * gives every scenario fresh locations.
   */
  openRemote(location?: string): Promise<Remote>;
  /** A new, empty store (each device gets its own). */
  openStore(): Promise<Store>;
  /** Removes everything the harness made. */
  cleanup(): Promise<void>;
}

export interface ScenarioOptions {
  /** The remote URL stored in the vault (display only). */
  readonly remoteUrl: string;
  /**
   * Request counts are exact (default true). False behind a fault-injecting
   * proxy, where retries add requests; the idle-cost check then allows them.
   */
  readonly exactRequestCounts?: boolean;
}

interface Device {
  vault: Vault;
  remote: Remote;
  store?: Store;
}

async function docs(v: Vault, collection: string): Promise<Doc[]> {
  const out: Doc[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await v.list(collection, after === undefined ? { limit: 500 } : { limit: 500, after });
    out.push(...page.records);
    if (!page.next) return out;
    after = page.next;
  }
}

/** A device's signing seed and epoch keys, as its store holds them (no local passphrase). */
async function secretsOf(d: Device): Promise<{ signSeed: Uint8Array; epochKeys: Map<number, Uint8Array> }> {
  const { signSeed } = (await d.store!.read((tx) => tx.getMeta('device'))) as { signSeed: string };
  const held = (await d.store!.read((tx) => tx.getMeta('epochs'))) as Record<string, string>;
  return { signSeed: base64.decode(signSeed), epochKeys: new Map(Object.entries(held).map(([e, k]) => [Number(e), base64.decode(k)] as const)) };
}

/** Crypto level: the newest segment `writer` pushed opens with no key the `revoked` device holds. */
async function assertUnreadableBy(revoked: Device, writer: Device, remote: Remote): Promise<void> {
  const stolen = (await secretsOf(revoked)).epochKeys;
  const signPub = signingKeyFromSeed((await secretsOf(writer)).signSeed).pub;
  const segs = await remote.list(remoteKeys.segmentPrefix(writer.vault.deviceId));
  const newest = (await remote.get(segs.at(-1)!.key))!;
  const seq = Number(segs.at(-1)!.key.split('/').pop());
  assert.ok(stolen.size > 0);
  for (const [epoch, key] of stolen) {
    await assert.rejects(
      decodeSegment(newest, { vaultId: writer.vault.vaultId, deviceId: writer.vault.deviceId, seq, signPub, epochKey: () => key, maxPayloadBytes: 1 << 20 }),
      (e: unknown) => isIntegrityError(e),
      `epoch ${epoch}'s key opened a segment written after the revocation`,
    );
  }
}

/**
 * Writes what a squatter would at the version 1 places of `epoch`: a key
 * of its own choosing sealed to every recipient and as the `previous`
 * link, signed by `squatter`.
 */
async function squatEpoch(squatter: Device, remote: Remote, epoch: number, recipients: readonly string[], seed: number): Promise<void> {
  const rand = seededRandom(seed);
  const chosen = newEpochKey(rand);
  const { signSeed } = await secretsOf(squatter);
  const signer = { vaultId: squatter.vault.vaultId, signerId: squatter.vault.deviceId, signerSeed: signSeed, random: rand };
  for (const recipientId of [...recipients, 'recovery', 'password', 'previous']) {
    const bytes = await sealKeyTo(signer, epoch, chosen, recipientId, generateDeviceKeys(rand).box.pub);
    await remote.put(remoteKeys.sealedKey(epoch, recipientId), bytes);
  }
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof KithError, `expected KithError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

/** Copies every object of a vault from one remote location to another (what a remote keeping an old copy holds). */
async function copyRemote(from: Remote, to: Remote): Promise<void> {
  // The header first: a relay takes objects for a vault name only once it holds one.
  const keys = (await from.list('')).map((i) => i.key).sort((x, y) => Number(y === remoteKeys.vault) - Number(x === remoteKeys.vault));
  for (const key of keys) await to.put(key, (await from.get(key))!);
}

/**
 * A client that serves whichever location `target` names: a remote that
 * shows one device an old copy, then the live objects. It passes on no
 * device authentication (on an authenticating relay, the scenario remote
 * then falls back to the operator's view of storage).
 */
function switchable(target: Remote): Remote & { target: Remote } {
  const w: Remote & { target: Remote } = {
    target,
    url: target.url,
    capabilities: target.capabilities,
    put: (k, b, o) => w.target.put(k, b, o),
    get: (k, o) => w.target.get(k, o),
    head: (k, o) => w.target.head(k, o),
    list: (p, o) => w.target.list(p, o),
    delete: (k, o) => w.target.delete(k, o),
    close: async () => undefined,
  };
  return w;
}

/** Registers the scenarios under `describe(name)`; `setup` runs before each scenario, `cleanup` after it. */
export function runSyncScenarios(name: string, setup: () => Promise<ScenarioHarness>, options: ScenarioOptions): void {
  describe(`sync scenarios: ${name}`, () => {
    let h: ScenarioHarness;
    let now = Date.UTC(2026, 10, 1);
    /** Each device has its own randomness and a clock `skew` ms off the true time. */
    const deps = (seed: number, skew = 0) => ({ random: seededRandom(seed), now: () => (now += 7) + skew });
    // A device's own remote counts its requests (the idle-cost checks read them).
    const founder = async (seed = 1, location?: string, compaction?: CompactionPolicy): Promise<Device & { code: string; remote: CountingRemote }> => {
      const remote = countingRemote(await h.openRemote(location));
      const store = await h.openStore();
      const { vault, recoveryCode } = await Vault.create({
        store,
        remote,
        remoteUrl: options.remoteUrl,
        deviceName: 'A',
        deps: deps(seed),
        ...(compaction ? { compaction } : {}),
      });
      return { vault, remote, store, code: recoveryCode };
    };
    const joiner = async (code: string, seed = 2, nameOf = 'B', skew = 0): Promise<Device & { remote: CountingRemote }> => {
      const remote = countingRemote(await h.openRemote());
      const store = await h.openStore();
      const vault = await Vault.restore({ store, remote, remoteUrl: options.remoteUrl, recoveryCode: code, deviceName: nameOf, deps: deps(seed, skew) });
      return { vault, remote, store };
    };
    let opened: Device[] = [];
    const track = <T extends Device>(d: T): T => (opened.push(d), d);

    beforeEach(async () => {
      h = await setup();
    });
    afterEach(async () => {
      await closeAll();
      await h.cleanup();
    });
    const closeAll = async () => {
      for (const d of opened) await d.vault.close().catch(() => undefined);
      opened = [];
    };

    /** Pairs a new device through `inviting` (the person confirms when both codes match); `tamper` alters the offer, `decline` says no. */
    const pairWith = async (inviting: Device, seed: number, o: { tamper?: boolean; decline?: boolean } = {}) => {
      let onSas: (s: string) => void = () => undefined;
      // The person compares both screens: the inviter's answer waits until the joiner shows its code (or gives up).
      const joinerSas = new Promise<string>((resolve) => {
        onSas = resolve;
        setTimeout(() => resolve(''), 10_000).unref();
      });
      let onCode: (c: string) => void = () => undefined;
      const codeReady = new Promise<string>((resolve) => (onCode = resolve));
      const inviter = inviting.vault.devices.pair({
        pollMs: 10,
        timeoutMs: o.tamper ? 1500 : 20_000,
        onCode: (c) => onCode(c),
        confirm: async (j) => j.sas === (await joinerSas) && !o.decline,
      });
      const code = await Promise.race([codeReady, inviter.then(() => '')]);
      const evil = await h.openRemote();
      const remote = await h.openRemote();
      if (o.tamper) {
        // The remote alters the offer before the new device reads it.
        const key = (await evil.list('pairing/'))[0]!.key;
        const bytes = (await evil.get(key))!;
        bytes[bytes.length - 1]! ^= 1;
        await evil.put(key, bytes);
      }
      const joining = Vault.join({
        store: await h.openStore(),
        remote,
        remoteUrl: options.remoteUrl,
        code,
        deviceName: 'paired',
        deps: deps(seed),
        pollMs: 10,
        onSas: (s) => onSas(s),
      });
      const [inv, joined] = await Promise.allSettled([inviter, joining]);
      await evil.close();
      return { inv, joined, code, remote };
    };

    test('two devices: create, restore, edits both ways, delete, concurrent edit and resolve', async () => {
      const a = track(await founder(11));
      await a.vault.batch((b) => {
        for (let i = 0; i < 50; i++) b.put('notes', `n${i}`, { title: `note ${i}`, n: i, done: i % 2 === 0 });
      });
      assert.deepEqual(await a.vault.push(), { pushed: 50, pulled: 0, conflicts: 0 });
      const b = track(await joiner(a.code, 12));
      let caughtUp = 0;
      b.vault.on('caughtUp', () => caughtUp++);
      assert.equal((await b.vault.status()).caughtUp, false);
      assert.equal((await b.vault.pull()).pulled, 50);
      assert.equal(caughtUp, 1);
      assert.equal((await b.vault.status()).caughtUp, true);
      assert.deepEqual(await docs(b.vault, 'notes'), await docs(a.vault, 'notes'));
      // Edits both ways.
      await b.vault.patch('notes', 'n1', { title: 'edited on B' });
      await b.vault.delete('notes', 'n2');
      await b.vault.sync();
      await a.vault.put('notes', 'n3', { title: 'replaced on A' });
      await a.vault.sync();
      await b.vault.sync();
      assert.deepEqual(await a.vault.get('notes', 'n1'), { id: 'n1', title: 'edited on B', n: 1, done: false });
      assert.equal(await a.vault.get('notes', 'n2'), undefined);
      assert.deepEqual(await b.vault.get('notes', 'n3'), { id: 'n3', title: 'replaced on A' });
      // Concurrent edit of one field.
      await a.vault.patch('notes', 'n4', { title: 'A says' });
      await b.vault.patch('notes', 'n4', { title: 'B says' });
      await a.vault.sync();
      await b.vault.sync();
      await a.vault.sync();
      const ca = await a.vault.conflicts();
      assert.equal(ca.length, 1);
      assert.deepEqual(ca, await b.vault.conflicts());
      assert.equal(ca[0]!.field, 'title');
      assert.deepEqual(await docs(a.vault, 'notes'), await docs(b.vault, 'notes'));
      const loser = ca[0]!.losers[0]!;
      await b.vault.resolve('notes', 'n4', 'title', { take: loser.device });
      await b.vault.sync();
      await a.vault.sync();
      assert.deepEqual(await a.vault.conflicts(), []);
      assert.equal((await a.vault.get('notes', 'n4'))!['title'], loser.value);
      assert.deepEqual(await docs(a.vault, 'notes'), await docs(b.vault, 'notes'));
      // History is the same on both.
      assert.deepEqual(
        (await a.vault.log({ collection: 'notes', id: 'n4' })).map((e) => e.stamp),
        (await b.vault.log({ collection: 'notes', id: 'n4' })).map((e) => e.stamp),
      );
    });

    test('fields named like Object.prototype members, and __proto__, reach every device, and so do later writes', async () => {
      const a = track(await founder(91));
      const b = track(await joiner(a.code, 92));
      // As JSON.parse gives them (an app's input, the CLI's): own properties, "__proto__" included.
      const tricky = JSON.parse(
        '{"constructor":1,"toString":"t","valueOf":[2],"hasOwnProperty":{"x":3},"__proto__":{"polluted":true},"title":"ok"}',
      ) as JsonObject;
      await a.vault.put('notes', 'p', tricky);
      await a.vault.patch('notes', 'p', JSON.parse('{"__proto__":"patched","isPrototypeOf":null,"valueOf":null}') as JsonObject);
      await a.vault.batch((w) => w.put('notes', 'q', JSON.parse('{"__proto__":1}') as JsonObject));
      await a.vault.sync();
      assert.equal((await b.vault.pull()).pulled, 3);
      const want = '{"__proto__":"patched","constructor":1,"hasOwnProperty":{"x":3},"isPrototypeOf":null,"title":"ok","toString":"t","valueOf":null,"id":"p"}';
      for (const d of [a, b]) {
        assert.equal(JSON.stringify(await d.vault.get('notes', 'p')), want);
        assert.equal(JSON.stringify(await d.vault.get('notes', 'q')), '{"__proto__":1,"id":"q"}');
      }
      assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
      // A's chain is intact: its later writes arrive too.
      await a.vault.put('notes', 'later', { n: 1 });
      await a.vault.sync();
      assert.equal((await b.vault.pull()).pulled, 1);
      assert.deepEqual(await b.vault.get('notes', 'later'), { n: 1, id: 'later' });
      // Concurrent edits of such a field are one conflict, listed alike; B's unset travels too.
      await a.vault.patch('notes', 'p', JSON.parse('{"constructor":"from A"}') as JsonObject);
      await b.vault.patch('notes', 'p', JSON.parse('{"constructor":"from B","toString":null}') as JsonObject);
      await b.vault.patch('notes', 'p', { hasOwnProperty: undefined } as unknown as JsonObject);
      for (const d of [a, b, a]) await d.vault.sync();
      const conflicts = await a.vault.conflicts();
      assert.deepEqual(
        conflicts.map((c) => c.field),
        ['constructor'],
      );
      assert.deepEqual(await b.vault.conflicts(), conflicts);
      assert.equal(JSON.stringify(await a.vault.get('notes', 'p')), JSON.stringify(await b.vault.get('notes', 'p')));
      assert.equal(Object.hasOwn((await a.vault.get('notes', 'p'))!, 'hasOwnProperty'), false);
      assert.ok((await b.vault.log({ id: 'p' })).some((e) => e.fields.includes('__proto__')));
      await b.vault.resolve('notes', 'p', 'constructor', { take: conflicts[0]!.losers[0]!.device });
      for (const d of [b, a]) await d.vault.sync();
      for (const d of [a, b]) assert.deepEqual(await d.vault.conflicts(), []);
      assert.equal((await a.vault.get('notes', 'p'))!['constructor'], conflicts[0]!.losers[0]!.value);
      // A device that joins later reads it all from the segments.
      const c = track(await joiner(a.code, 93, 'C'));
      await c.vault.pull();
      assert.equal(JSON.stringify(await docs(c.vault, 'notes')), JSON.stringify(await docs(a.vault, 'notes')));
      assert.deepEqual(await c.vault.conflicts(), []);
    });

    test('a segment an older build wrote for a field named constructor (a null predecessor) is read, and so is everything after it', async () => {
      const a = track(await founder(97));
      const b = track(await joiner(a.code, 98));
      await a.vault.put('notes', 'p', { constructor: 1, title: 't' });
      // Builds before the fix named `null` as the predecessor of such a field: rewrite the pending op so.
      await a.store!.write(async (tx) => {
        const [entry] = await tx.readOutbox(10);
        await tx.deleteOutbox(entry!.seq);
        await tx.appendOutbox([{ ...entry!.op, r: { constructor: [null] } }]);
      });
      await a.vault.push();
      await a.vault.put('notes', 'later', { n: 2 });
      await a.vault.push();
      assert.equal((await b.vault.pull()).pulled, 2);
      assert.deepEqual(await b.vault.get('notes', 'p'), { constructor: 1, title: 't', id: 'p' });
      assert.deepEqual(await b.vault.get('notes', 'later'), { n: 2, id: 'later' });
      // And a later edit of that field replaces it everywhere, without a conflict.
      await b.vault.patch('notes', 'p', { constructor: 'edited' });
      for (const d of [b, a]) await d.vault.sync();
      for (const d of [a, b]) {
        assert.equal((await d.vault.get('notes', 'p'))!['constructor'], 'edited');
        assert.deepEqual(await d.vault.conflicts(), []);
      }
    });

    test('fields print in one order on every device, whatever order their writes arrived in', async () => {
      const a = track(await founder(95));
      const b = track(await joiner(a.code, 96));
      await a.vault.put('o', 'r', { m: 0 });
      await a.vault.sync();
      await b.vault.pull();
      // Each device applies its own patch first, the other's second.
      await a.vault.patch('o', 'r', { z: 1, '10': 2 });
      await b.vault.patch('o', 'r', { a: 3, A: 4, '9': 5 });
      for (const d of [a, b, a]) await d.vault.sync();
      const printed = JSON.stringify(await a.vault.get('o', 'r'));
      assert.equal(JSON.stringify(await b.vault.get('o', 'r')), printed);
      // Integer-like keys first (numerically, as JavaScript enumerates them), then code-unit order; the id last.
      assert.equal(printed, '{"9":5,"10":2,"A":4,"a":3,"m":0,"z":1,"id":"r"}');
      assert.equal(JSON.stringify(await docs(b.vault, 'o')), JSON.stringify(await docs(a.vault, 'o')));
    });

    test('an idle pull costs one listing and no reads, however long the history', async () => {
      const a = track(await founder(21));
      for (let round = 0; round < 5; round++) {
        await a.vault.put('log', `r${round}`, { round });
        await a.vault.push();
      }
      const b = track(await joiner(a.code, 22));
      await b.vault.pull();
      await b.vault.sync(); // b's first head names the registry it has seen (once per registry change)
      // The pull right after that push is idle too: push noted the etag of the head it wrote, so the own head needs no GET.
      const before = { ...b.remote.stats };
      await b.vault.sync();
      const s = b.remote.stats;
      if (options.exactRequestCounts === false) {
        assert.ok(s.lists - before.lists >= 1 && s.gets === before.gets && s.puts === before.puts, 'only listings of heads/');
      } else {
        assert.equal(s.lists - before.lists, 1, 'one LIST of heads/');
        assert.equal(s.gets - before.gets, 0, 'no GET');
        assert.equal(s.puts - before.puts, 0, 'no PUT');
      }
    });

    test('wrong and mistyped recovery codes fail cleanly and leave the store reusable', async () => {
      const a = track(await founder(31));
      const other = await founder(32, 'other');
      await other.vault.close();
      const remote = await h.openRemote();
      const store = await h.openStore();
      const typo = a.code.slice(0, -1) + (a.code.endsWith('0') ? '1' : '0');
      await rejectsWith(Vault.restore({ store, remote, remoteUrl: options.remoteUrl, recoveryCode: typo }), ErrorCode.BadRecoveryCode);
      await rejectsWith(Vault.restore({ store, remote, remoteUrl: options.remoteUrl, recoveryCode: other.code }), ErrorCode.WrongRecoveryCode);
      assert.equal(await Vault.readConfig(store), undefined);
      const b = track({ vault: await Vault.restore({ store, remote, remoteUrl: options.remoteUrl, recoveryCode: a.code }), remote });
      assert.equal(b.vault.vaultId, a.vault.vaultId);
    });

    test('tampered, truncated, replayed, reordered and missing segments are refused, then repaired', async () => {
      const a = track(await founder(41));
      for (let i = 1; i <= 3; i++) {
        await a.vault.put('t', `s${i}`, { i });
        await a.vault.push();
      }
      const dev = a.vault.deviceId;
      const evil = await h.openRemote();
      const key = (seq: number) => remoteKeys.segment(dev, seq);
      const orig = new Map<number, Uint8Array>();
      for (let i = 1; i <= 3; i++) orig.set(i, (await evil.get(key(i)))!);
      const restoreAll = async () => {
        for (const [i, bytes] of orig) await evil.put(key(i), bytes);
      };
      const cases: [string, () => Promise<void>, string][] = [
        [
          'flipped byte',
          async () => {
            const bad = orig.get(2)!.slice();
            bad[Math.floor(bad.length / 2)]! ^= 0x01;
            await evil.put(key(2), bad);
          },
          ErrorCode.IntegrityCorrupt,
        ],
        ['truncated', async () => void (await evil.put(key(2), orig.get(2)!.subarray(0, orig.get(2)!.length - 10))), ErrorCode.IntegrityCorrupt],
        ['replayed older segment', async () => void (await evil.put(key(2), orig.get(1)!)), ErrorCode.IntegrityChain],
        [
          'reordered',
          async () => {
            await evil.put(key(2), orig.get(3)!);
            await evil.put(key(3), orig.get(2)!);
          },
          ErrorCode.IntegrityChain,
        ],
        ['missing', async () => evil.delete(key(2)), ErrorCode.IntegrityChain],
      ];
      for (const [label, tamper, code] of cases) {
        const b = await joiner(a.code, 42 + cases.findIndex((c) => c[0] === label));
        try {
          await tamper();
          await rejectsWith(b.vault.pull(), code);
          const got = await docs(b.vault, 't');
          assert.ok(!got.some((d) => d.id === 's2' || d.id === 's3'), `${label}: nothing from or after the bad segment applied`);
          await restoreAll();
          await b.vault.pull();
          assert.deepEqual(
            (await docs(b.vault, 't')).map((d) => d.id),
            ['s1', 's2', 's3'],
            `${label}: recovers once repaired`,
          );
        } finally {
          await restoreAll();
          await b.vault.close();
        }
      }
      await evil.close();
    });

    test('a head rolled back under a listing that shows the newer one does not make the device skip that newer head for good', async () => {
      const a = track(await founder(61));
      await a.vault.put('t', 'x', { v: 1 });
      await a.vault.push();
      const evil = await h.openRemote();
      let oldHead = (await evil.get(remoteKeys.head(a.vault.deviceId)))!;
      const b = track(await joiner(a.code, 62));
      await b.vault.pull();
      await a.vault.put('t', 'y', { v: 2 });
      await a.vault.push();
      // The remote lies to B only, in its reads; its listings stay true.
      const r: CountingRemote & Partial<BatchGetRemote> = b.remote;
      const realGet = r.get.bind(r);
      const realGetMany = r.getMany?.bind(r);
      const lie = (withhold: string | undefined, rollback: boolean): void => {
        r.get = async (key, o) => (key === withhold ? null : rollback && key === remoteKeys.head(a.vault.deviceId) ? oldHead.slice() : realGet(key, o));
        if (realGetMany) r.getMany = async (keys, o) => new Map([...(await realGetMany(keys, o))].map(([k, v]) => [k, k === withhold ? null : v] as const));
      };
      // B reads A's new head but not its new segment...
      lie(remoteKeys.segment(a.vault.deviceId, 2), false);
      await rejectsWith(b.vault.pull(), ErrorCode.IntegrityChain);
      // ...then is served the old head (the one it already applied) while the listing shows the new one.
      lie(undefined, true);
      assert.deepEqual(
        (await b.vault.pull()).warnings?.map((w) => w.code),
        [WarningCode.OldHead],
      );
      // Honest again: the listed etag is the one of the rollback pull, and B must still read the head behind it.
      r.get = realGet;
      if (realGetMany) r.getMany = realGetMany;
      await b.vault.pull();
      assert.equal((await b.vault.get('t', 'y'))?.['v'], 2, 'the write acknowledged before the rollback arrives');
      // Again, with a head B never read: it is served the head it holds while A's newer one is listed.
      oldHead = (await evil.get(remoteKeys.head(a.vault.deviceId)))!;
      await evil.close();
      await a.vault.put('t', 'z', { v: 3 });
      await a.vault.push();
      lie(undefined, true);
      await b.vault.pull();
      r.get = realGet;
      if (realGetMany) r.getMany = realGetMany;
      await b.vault.pull();
      assert.equal((await b.vault.get('t', 'z'))?.['v'], 3, 'the write pushed before the rollback arrives');
    });

    test('a rolled-back head and a device outside the registry are refused; others still sync', async () => {
      const a = track(await founder(51));
      await a.vault.put('t', 'x', { v: 1 });
      await a.vault.push();
      const evil = await h.openRemote();
      const oldHead = (await evil.get(remoteKeys.head(a.vault.deviceId)))!;
      await a.vault.put('t', 'x', { v: 2 });
      await a.vault.push();
      const b = track(await joiner(a.code, 52));
      await b.vault.pull();
      // Rollback: the remote serves the older head again.
      await evil.put(remoteKeys.head(a.vault.deviceId), oldHead);
      await rejectsWith(b.vault.pull(), ErrorCode.IntegrityRollback);
      assert.equal((await b.vault.get('t', 'x'))!['v'], 2);
      await a.vault.put('t', 'y', { v: 3 });
      await a.vault.push(); // a rewrites its head: healed
      await b.vault.pull();
      assert.equal((await b.vault.get('t', 'y'))!['v'], 3);
      // A stranger writes a head and a segment under a device id the registry never admitted.
      const rand = seededRandom(53);
      const stranger = generateDeviceKeys(rand);
      const seg = await encodeSegment({
        vaultId: a.vault.vaultId,
        deviceId: stranger.deviceId,
        epoch: 0,
        seq: 1,
        prevHash: new Uint8Array(32),
        payload: encodePayload([{ c: 't', i: 'evil', t: '00000000a0000', k: 'p', s: { v: 666 }, a: true }]),
        epochKey: newEpochKey(rand),
        signSeed: stranger.sign.seed,
        random: rand,
      });
      await evil.put(remoteKeys.segment(stranger.deviceId, 1), seg.bytes);
      await evil.put(
        remoteKeys.head(stranger.deviceId),
        await encodeHead({
          vaultId: a.vault.vaultId,
          deviceId: stranger.deviceId,
          seq: 1,
          hash: seg.hash,
          registrySeq: 0,
          registryHash: new Uint8Array(32),
          at: now,
          signSeed: stranger.sign.seed,
        }),
      );
      const c = track(await joiner(a.code, 54));
      await rejectsWith(c.vault.pull(), ErrorCode.IntegrityUnknownSigner);
      assert.equal(await c.vault.get('t', 'evil'), undefined);
      assert.equal((await c.vault.get('t', 'y'))!['v'], 3, 'the genuine device still synced');
      // Now the remote forges a registry entry for it, signed by a key that is not the vault's.
      const fake = recoveryKeys(rand(17).subarray(1));
      const next = (await evil.list(remoteKeys.registryPrefix)).length + 1;
      const lastEntry = (await evil.get(remoteKeys.registryEntry(next - 1)))!;
      const forged = await encodeRegistryEntry(
        a.vault.vaultId,
        {
          seq: next,
          prevHash: await sha256(lastEntry),
          at: 0,
          signer: 'recovery',
          change: { kind: 'add', deviceId: stranger.deviceId, name: 'evil', signPub: stranger.sign.pub, boxPub: stranger.box.pub },
        },
        fake.sign.seed,
      );
      await evil.put(remoteKeys.registryEntry(next), forged.bytes);
      await assert.rejects(c.vault.pull(), (e: unknown) => isIntegrityError(e));
      assert.equal(await c.vault.get('t', 'evil'), undefined);
      await evil.close();
    });

    test('a push interrupted after the segment upload completes on retry with the same bytes', async () => {
      const a = track(await founder(61));
      await a.vault.put('t', 'x', { v: 1 });
      const realPut = a.remote.put.bind(a.remote);
      let failHead = true;
      a.remote.put = async (key, bytes, o) => {
        if (failHead && key.startsWith('heads/')) {
          failHead = false;
          throw new KithError(ErrorCode.RemoteUnavailable, 'injected failure');
        }
        return realPut(key, bytes, o);
      };
      await rejectsWith(a.vault.push(), ErrorCode.RemoteUnavailable);
      const evil = await h.openRemote();
      const seg1 = await evil.get(remoteKeys.segment(a.vault.deviceId, 1));
      assert.ok(seg1, 'segment uploaded before the failure');
      assert.equal((await a.vault.status()).pending, 0);
      await a.vault.push();
      assert.deepEqual(await evil.get(remoteKeys.segment(a.vault.deviceId, 1)), seg1);
      assert.equal(await evil.get(remoteKeys.segment(a.vault.deviceId, 2)), null);
      const b = track(await joiner(a.code, 62));
      assert.equal((await b.vault.pull()).pulled, 1);
      await evil.close();
    });

    describe('a writer puts back what the remote lost of its own chain', () => {
      /** A writer with `n` pushed segments (record `w<i>` in segment i), and a second client of its remote. */
      const writer = async (seed: number, n: number) => {
        const a = track(await founder(seed));
        const evil = await h.openRemote();
        const heads: Uint8Array[] = [];
        for (let i = 1; i <= n; i++) {
          await a.vault.put('w', `w${i}`, { i });
          await a.vault.push();
          heads.push((await evil.get(remoteKeys.head(a.vault.deviceId)))!);
        }
        const key = (seq: number) => remoteKeys.segment(a.vault.deviceId, seq);
        const orig = new Map<number, Uint8Array>();
        for (let i = 1; i <= n; i++) orig.set(i, (await evil.get(key(i)))!);
        return { a, evil, heads, key, orig };
      };
      /** After the writer's repair: the segments are back byte for byte and a brand-new device converges with no manual step. */
      const converges = async (w: Awaited<ReturnType<typeof writer>>, seed: number, ids: string[]) => {
        for (const [seq, bytes] of w.orig) assert.deepEqual(await w.evil.get(w.key(seq)), bytes, `segment ${seq} restored byte for byte`);
        const fresh = track(await joiner(w.a.code, seed, 'fresh'));
        await fresh.vault.pull();
        assert.deepEqual((await docs(fresh.vault, 'w')).map((d) => d.id).sort(), ids.sort());
        assert.deepEqual(await docs(fresh.vault, 'w'), await docs(w.a.vault, 'w'));
        await w.evil.close();
      };

      test('(a) the newest segments and the head roll back to an older backup', async () => {
        const w = await writer(131, 4);
        const old = track(await joiner(w.a.code, 132, 'old'));
        await old.vault.pull();
        // The remote is restored from a backup taken after segment 2.
        await w.evil.delete(w.key(3));
        await w.evil.delete(w.key(4));
        await w.evil.put(remoteKeys.head(w.a.vault.deviceId), w.heads[1]!);
        await w.a.vault.put('w', 'w5', { i: 5 });
        await w.a.vault.sync();
        await old.vault.pull(); // the device that had seen segment 4 goes on without a rollback error
        assert.deepEqual((await docs(old.vault, 'w')).map((d) => d.id).sort(), ['w1', 'w2', 'w3', 'w4', 'w5']);
        await converges(w, 133, ['w1', 'w2', 'w3', 'w4', 'w5']);
      });

      test('(b) a middle segment below an intact head: put back by the next audit, at most a day later', async () => {
        const w = await writer(141, 3);
        await w.a.vault.sync(); // the first pull audits the own chain once
        await w.evil.delete(w.key(2));
        const before = { ...w.a.remote.stats };
        await w.a.vault.sync();
        assert.equal(await w.evil.get(w.key(2)), null, 'the head looks right: no audit before it is due');
        if (options.exactRequestCounts !== false) assert.equal(w.a.remote.stats.lists - before.lists, 1, 'no listing of segments either');
        now += AUDIT_INTERVAL_MS;
        await w.a.vault.sync();
        await converges(w, 142, ['w1', 'w2', 'w3']);
      });

      test('(c) everything the device wrote, head included', async () => {
        const w = await writer(151, 3);
        for (let i = 1; i <= 3; i++) await w.evil.delete(w.key(i));
        await w.evil.delete(remoteKeys.head(w.a.vault.deviceId));
        await w.a.vault.sync();
        await converges(w, 152, ['w1', 'w2', 'w3']);
      });

      test('a store from before segments were kept copies them from the remote once, then can restore them', async () => {
        const w = await writer(161, 3);
        // As a store written by an older kith: no kept segments, never audited.
        await w.a.store!.write(async (tx) => {
          await tx.deleteOwnSegments(Number.MAX_SAFE_INTEGER);
          await tx.setMeta('push.own', undefined);
        });
        await w.a.vault.sync();
        assert.deepEqual(await w.a.store!.read((tx) => tx.listOwnSegments()), [1, 2, 3]);
        const gets = w.a.remote.stats.gets;
        await w.a.vault.sync();
        assert.equal(w.a.remote.stats.gets, gets, 'copied once only');
        await w.evil.delete(w.key(1));
        await w.evil.delete(w.key(3));
        now += AUDIT_INTERVAL_MS;
        await w.a.vault.sync();
        await converges(w, 162, ['w1', 'w2', 'w3']);
      });

      test('a push whose etag check of its own head fails still succeeds; the next pull verifies the head instead', async () => {
        const a = track(await founder(181));
        await a.vault.put('w', 'x', { v: 0 });
        await a.vault.sync();
        await a.vault.sync(); // audited already: what follows must not lean on the first audit
        await a.vault.put('w', 'x', { v: 1 });
        const realHead = a.remote.head.bind(a.remote);
        a.remote.head = async (key, o) => {
          if (key.startsWith(remoteKeys.headsPrefix)) throw new KithError(ErrorCode.RemoteUnavailable, 'injected failure');
          return realHead(key, o);
        };
        assert.equal((await a.vault.push()).pushed, 1);
        a.remote.head = realHead;
        await a.vault.sync();
        const before = { ...a.remote.stats };
        await a.vault.sync();
        assert.equal(a.remote.stats.gets, before.gets, 'verified once, then idle');
        assert.equal(a.remote.stats.puts, before.puts, 'the verified head is not rewritten');
      });

      test('a segment lost before a pre-upgrade store could copy it is recorded as lost; the others are kept', async () => {
        const w = await writer(171, 3);
        await w.a.store!.write(async (tx) => {
          await tx.deleteOwnSegments(Number.MAX_SAFE_INTEGER);
          await tx.setMeta('push.own', undefined);
        });
        await w.evil.delete(w.key(2));
        await w.a.vault.sync();
        assert.deepEqual(await w.a.store!.read((tx) => tx.listOwnSegments()), [1, 3]);
        assert.deepEqual(((await w.a.store!.read((tx) => tx.getMeta('push.own'))) as { lost?: number[] }).lost, [2]);
        assert.equal(await w.evil.get(w.key(2)), null, 'nobody can forge it');
        await w.evil.close();
      });
    });

    test('clock drift: a device a year behind still syncs and wins later edits; one a year ahead cannot win later edits', async () => {
      const YEAR = 365 * 24 * 3600 * 1000;
      try {
        const a = track(await founder(81));
        await a.vault.put('d', 'x', { v: 'A first' });
        await a.vault.sync();
        const slow = track(await joiner(a.code, 82, 'slow', -YEAR));
        const fast = track(await joiner(a.code, 83, 'fast', YEAR));
        // The slow device sees A's write, then edits it: its edit replaces A's despite the older stamp.
        await slow.vault.sync();
        await slow.vault.patch('d', 'x', { v: 'slow edits' });
        await slow.vault.sync();
        await a.vault.sync();
        assert.equal((await a.vault.get('d', 'x'))!['v'], 'slow edits');
        assert.deepEqual(await a.vault.conflicts(), []);
        // The fast device writes with a stamp a year ahead; A sees it, then edits again: A's later edit wins.
        await fast.vault.sync();
        await fast.vault.patch('d', 'x', { v: 'fast edits' });
        await fast.vault.sync();
        await a.vault.sync();
        assert.equal((await a.vault.get('d', 'x'))!['v'], 'fast edits');
        await a.vault.patch('d', 'x', { v: 'A edits after seeing fast' });
        await a.vault.sync();
        for (const d of [fast, slow]) await d.vault.sync();
        for (const d of [a, fast, slow]) {
          assert.equal((await d.vault.get('d', 'x'))!['v'], 'A edits after seeing fast');
          assert.deepEqual(await d.vault.conflicts(), []);
        }
        // A's clock was not dragged a year ahead: its newest stamp stays within a minute of its own time.
        const newest = (await a.vault.log({ collection: 'd' })).filter((e) => e.device === a.vault.deviceId).at(-1)!;
        assert.ok(stampTime(newest.stamp) - now < 61_000, `A's stamp ${newest.stamp} ran ahead of its clock`);
        // Truly concurrent writes are reported as a conflict, identically everywhere.
        await slow.vault.patch('d', 'x', { v: 'slow concurrent' });
        await fast.vault.patch('d', 'x', { v: 'fast concurrent' });
        for (let i = 0; i < 2; i++) for (const d of [slow, fast, a]) await d.vault.sync();
        const conflicts = await a.vault.conflicts();
        assert.equal(conflicts.length, 1);
        for (const d of [slow, fast]) assert.deepEqual(await d.vault.conflicts(), conflicts);
      } finally {
        await closeAll();
      }
    });

    test('a remote serving an old state: signed head times give warnings on restore and pull; a fresh vault gives none', async () => {
      const DAY = 24 * 3600 * 1000;
      const a = track(await founder(131));
      const early = track(await joiner(a.code, 132, 'early'));
      assert.deepEqual(early.vault.warnings, [], 'a fresh vault (no head yet) gives no warning');
      await a.vault.put('s', 'x', { v: 1 });
      await a.vault.sync();
      const b = track(await joiner(a.code, 133, 'B'));
      assert.deepEqual(b.vault.warnings, []);
      const first = await b.vault.sync();
      assert.equal(first.pulled, 1);
      assert.equal('warnings' in first, false, 'no warnings field when all is well');
      // The remote keeps a copy of this state, then everyone moves on for 8 days.
      const evil = await h.openRemote();
      const old = await h.openRemote('old');
      await copyRemote(evil, old);
      await old.close();
      const oldHeadOfA = (await evil.get(remoteKeys.head(a.vault.deviceId)))!;
      now += 8 * DAY;
      await a.vault.sync(); // nothing new to push: the daily refresh alone rewrites A's head
      assert.notDeepEqual(await evil.get(remoteKeys.head(a.vault.deviceId)), oldHeadOfA);
      await b.vault.sync();
      // A device restored from the old copy is told how old the newest data is; one restored from the live remote is not.
      const oldForD = await h.openRemote('old');
      const fromOld = await Vault.restore({
        store: await h.openStore(),
        remote: oldForD,
        remoteUrl: options.remoteUrl,
        recoveryCode: a.code,
        deviceName: 'D',
        deps: deps(134),
      });
      track({ vault: fromOld, remote: oldForD });
      assert.deepEqual(
        fromOld.warnings.map((w) => w.code),
        [WarningCode.StaleRemote],
      );
      assert.match(fromOld.warnings[0]!.message, /newest data on the remote was written 8 days ago/);
      assert.equal((await fromOld.pull()).warnings?.[0]?.code, WarningCode.StaleRemote, 'and again on every pull while it stays old');
      const live = track(await joiner(a.code, 135, 'E'));
      assert.deepEqual(live.vault.warnings, []);
      // A threshold beyond the age silences it.
      const oldForP = await h.openRemote('old');
      const patient = await Vault.restore({
        store: await h.openStore(),
        remote: oldForP,
        remoteUrl: options.remoteUrl,
        recoveryCode: a.code,
        deps: deps(136),
        staleAfterMs: 30 * DAY,
      });
      track({ vault: patient, remote: oldForP });
      assert.deepEqual(patient.warnings, []);
      await rejectsWith(
        Vault.restore({ store: await h.openStore(), remote: await h.openRemote(), remoteUrl: options.remoteUrl, recoveryCode: a.code, staleAfterMs: -1 }),
        ErrorCode.BadInput,
      );
      // The live remote serves A's old head again: B saw a newer one, and A knows the one it wrote.
      await evil.put(remoteKeys.head(a.vault.deviceId), oldHeadOfA);
      const seenByB = await b.vault.pull();
      assert.deepEqual(
        seenByB.warnings?.map((w) => w.code),
        [WarningCode.OldHead],
      );
      assert.match(seenByB.warnings[0]!.message, new RegExp(`device ${a.vault.deviceId}'s head written at .* older than the one this device saw before`));
      // One read of the own head serves both the repair of A's chain and this warning.
      let ownHeadReads = 0;
      const realGet = a.remote.get.bind(a.remote);
      a.remote.get = async (key, o) => {
        if (key === remoteKeys.head(a.vault.deviceId)) ownHeadReads++;
        return realGet(key, o);
      };
      const seenByA = await a.vault.pull();
      a.remote.get = realGet;
      assert.equal(ownHeadReads, 1, 'the own head is read once');
      assert.deepEqual(
        seenByA.warnings?.map((w) => w.code),
        [WarningCode.OldHead],
      );
      assert.match(seenByA.warnings[0]!.message, /this device's own head written at .* older than the one it wrote last/);
      // status lists every device with the newest head time this device verified.
      const status = await b.vault.status();
      const byId = new Map(status.devices.map((d) => [d.deviceId, d]));
      assert.deepEqual(
        { ...byId.get(b.vault.deviceId), lastHeadAt: null },
        { deviceId: b.vault.deviceId, name: 'B', revoked: false, current: true, lastHeadAt: null },
      );
      assert.equal(byId.get(early.vault.deviceId)?.lastHeadAt, null, 'never synced: no head');
      assert.ok(new Date(byId.get(a.vault.deviceId)!.lastHeadAt!).getTime() > now - DAY, 'the newest head of A seen, not the old one served again');
      await evil.close();
    });

    test('a device set up on a state that hides a revocation: the fork is reported with what happened and what to do', async () => {
      const a = track(await founder(141));
      const c = track(await joiner(a.code, 142, 'lost phone'));
      await a.vault.sync();
      await c.vault.sync();
      const evil = await h.openRemote();
      const old = await h.openRemote('old');
      await copyRemote(evil, old);
      const oldHeadOfA = (await evil.get(remoteKeys.head(a.vault.deviceId)))!;
      await a.vault.devices.revoke(c.vault.deviceId);
      const revocationSeq = (await evil.list(remoteKeys.registryPrefix)).length;
      // A new device is set up from the old copy: it cannot tell (the copy is consistent and recent).
      const served = switchable(old);
      const d = track({
        vault: await Vault.restore({
          store: await h.openStore(),
          remote: served,
          remoteUrl: options.remoteUrl,
          recoveryCode: a.code,
          deviceName: 'D',
          deps: deps(143),
        }),
        remote: served,
      });
      assert.deepEqual(d.vault.warnings, []);
      await d.vault.put('s', 'x', { v: 'written on the old state' });
      await d.vault.sync();
      // Later the remote serves it the live state: the fork shows.
      served.target = evil;
      await assert.rejects(d.vault.pull(), (e: unknown) => {
        assert.ok(KithError.is(e, ErrorCode.IntegrityChain), String(e));
        assert.match(
          e.message,
          new RegExp(
            `forked at entry ${revocationSeq}: device ${a.vault.deviceId} verified a different entry ${revocationSeq} than this device, so the remote served one of them an old state`,
          ),
        );
        assert.match(e.hint!, /set that device up again from scratch/);
        return true;
      });
      // The other side, should the remote carry D's head over: a device its registry never added.
      await evil.put(remoteKeys.head(d.vault.deviceId), (await old.get(remoteKeys.head(d.vault.deviceId)))!);
      await assert.rejects(a.vault.pull(), (e: unknown) => {
        assert.ok(KithError.is(e, ErrorCode.IntegrityUnknownSigner), String(e));
        assert.match(e.hint!, /the remote may have shown it an old state that hid a revocation/);
        return true;
      });
      assert.equal(await a.vault.get('s', 'x'), undefined);
      await evil.delete(remoteKeys.head(d.vault.deviceId));
      // A remote that serves old heads beside the newer registry: a revocation newer than every head.
      await evil.put(remoteKeys.head(a.vault.deviceId), oldHeadOfA);
      const f = track(await joiner(a.code, 145, 'F'));
      assert.deepEqual(
        f.vault.warnings.map((w) => w.code),
        [WarningCode.HeadsBehindRegistry],
      );
      assert.match(f.vault.warnings[0]!.message, new RegExp(`revocation of device ${c.vault.deviceId} at .*, but every head on the remote is older`));
      await evil.close();
      await old.close();
    });

    test('pairing through the remote: both sides show the same code; the new device syncs; codes work once', async () => {
      const a = track(await founder(91));
      await a.vault.put('p', 'x', { v: 1 });
      await a.vault.sync();
      const ok = await pairWith(a, 92);
      assert.equal(ok.joined.status, 'fulfilled', String((ok.joined as PromiseRejectedResult).reason));
      assert.equal(ok.inv.status, 'fulfilled');
      const b = track({ vault: ok.joined.value, remote: ok.remote });
      assert.deepEqual(b.vault.warnings, [], 'a live remote gives a joining device no warning');
      const invited = (ok.inv as PromiseFulfilledResult<{ deviceId: string; sas: string }>).value;
      assert.equal(invited.deviceId, b.vault.deviceId);
      assert.match(invited.sas, /^\d{3} \d{3}$/);
      await b.vault.sync();
      assert.deepEqual(await b.vault.get('p', 'x'), { id: 'x', v: 1 });
      assert.deepEqual((await a.vault.devices.list({ refresh: true })).map((d) => d.name).sort(), ['A', 'paired']);
      // The same code again: refused, the home stays reusable.
      const store = await h.openStore();
      await rejectsWith(Vault.join({ store, remote: await h.openRemote(), remoteUrl: options.remoteUrl, code: ok.code, pollMs: 10 }), ErrorCode.PairingExpired);
      assert.equal(await Vault.readConfig(store), undefined);
      // A tampered offer is refused by the new device; the inviter then times out cleanly.
      const tampered = await pairWith(a, 93, { tamper: true });
      assert.equal(tampered.joined.status, 'rejected');
      assert.ok(isIntegrityError(tampered.joined.reason));
      assert.equal(tampered.inv.status, 'rejected');
      assert.ok(KithError.is(tampered.inv.reason, ErrorCode.PairingExpired));
      // A declined pairing fails on both sides and adds nobody.
      const declined = await pairWith(a, 94, { decline: true });
      assert.ok(KithError.is((declined.joined as PromiseRejectedResult).reason, ErrorCode.PairingDeclined));
      assert.ok(KithError.is((declined.inv as PromiseRejectedResult).reason, ErrorCode.PairingDeclined));
      assert.equal((await a.vault.devices.list({ refresh: true })).length, 2);
    });

    test('revocation: a new epoch the revoked device cannot read, its later writes refused everywhere, KITH_REVOKED on its next sync', async () => {
      const a = track(await founder(101));
      await a.vault.put('r', 'before', { v: 1 });
      await a.vault.sync();
      const b = track(await joiner(a.code, 102, 'B'));
      const c = track(await joiner(a.code, 103, 'lost phone'));
      await c.vault.put('r', 'from-c', { v: 'kept' });
      await c.vault.sync();
      await b.vault.sync();
      await a.vault.devices.revoke(c.vault.deviceId);
      // The stolen device keeps writing under the keys it has.
      await c.vault.put('r', 'after-c', { v: 'refused' });
      await c.remote.put('probe', new Uint8Array(1)); // the remote still accepts its bytes
      await assert.rejects(c.vault.sync(), (e: unknown) => KithError.is(e, ErrorCode.Revoked));
      await a.vault.put('r', 'after', { v: 'secret' });
      await a.vault.sync();
      await b.vault.sync();
      for (const d of [a, b]) {
        assert.deepEqual(await d.vault.get('r', 'from-c'), { id: 'from-c', v: 'kept' }, 'writes before the revocation stay');
        assert.equal(await d.vault.get('r', 'after-c'), undefined, 'writes after the revocation are refused');
        assert.equal((await d.vault.get('r', 'after'))!['v'], 'secret');
      }
      assert.deepEqual((await b.vault.devices.list()).find((d) => d.deviceId === c.vault.deviceId)?.revoked, true);
      const evil = await h.openRemote();
      await assertUnreadableBy(c, a, evil);
      // Deleting the revocation from the remote does not bring the device back, for old or new devices.
      const entries = await evil.list(remoteKeys.registryPrefix);
      const last = entries.at(-1)!;
      const saved = (await evil.get(last.key))!;
      await evil.delete(last.key);
      await b.vault.sync();
      assert.equal((await b.vault.devices.list()).find((d) => d.deviceId === c.vault.deviceId)?.revoked, true);
      await rejectsWith(joiner(a.code, 104, 'fresh'), ErrorCode.IntegrityChain);
      await evil.put(last.key, saved);
      const fresh = track(await joiner(a.code, 105, 'fresh'));
      await fresh.vault.pull();
      assert.equal((await fresh.vault.get('r', 'after'))!['v'], 'secret', 'a device that joined later reads the new epoch');
      assert.deepEqual(await fresh.vault.get('r', 'before'), { id: 'before', v: 1 }, 'and the old one, through the epoch chain');
      await evil.close();
    });

    test('a device that squats the next epoch before its revocation blocks nothing; neither does a squat after it', async () => {
      const a = track(await founder(131));
      await a.vault.put('r', 'before', { v: 1 });
      await a.vault.sync();
      await a.vault.devices.setPassword('correct horse battery');
      const b = track(await joiner(a.code, 132, 'B'));
      const c = track(await joiner(a.code, 133, 'about to go'));
      const ids = [a, b, c].map((d) => d.vault.deviceId);
      // While still registered, C seals a key of its own for the next epoch to everyone, signed by itself.
      const epochNow = async (d: Device): Promise<number> => ((await d.store!.read((tx) => tx.getMeta('registry'))) as { epoch: number }).epoch;
      const next = (await epochNow(a)) + 1;
      await squatEpoch(c, c.remote, next, ids, 134);
      await a.vault.devices.revoke(c.vault.deviceId);
      assert.equal(await epochNow(a), next);
      // Every remaining device reads and writes the new epoch.
      await a.vault.put('r', 'after', { v: 'secret' });
      await a.vault.sync();
      await b.vault.sync();
      assert.equal((await b.vault.get('r', 'after'))!['v'], 'secret');
      await b.vault.put('r', 'from-b', { v: 'b' });
      await b.vault.sync();
      await a.vault.sync();
      assert.equal((await a.vault.get('r', 'from-b'))!['v'], 'b');
      await rejectsWith(c.vault.sync(), ErrorCode.Revoked);
      await assertUnreadableBy(c, a, c.remote);
      await assertUnreadableBy(c, b, c.remote);
      // The recovery code and the password still restore, reading old and new epochs.
      const byCode = track(await joiner(a.code, 135, 'by code'));
      const pwRemote = await h.openRemote();
      const byPassword = track({
        vault: await Vault.restore({
          store: await h.openStore(),
          remote: pwRemote,
          remoteUrl: options.remoteUrl,
          password: 'correct horse battery',
          deps: deps(136),
        }),
        remote: pwRemote,
      });
      // A device paired by B (not the epoch's opener) receives the same key.
      const paired = await pairWith(b, 139);
      assert.equal(paired.joined.status, 'fulfilled', String((paired.joined as PromiseRejectedResult).reason));
      const byPairing = track({ vault: paired.joined.value, remote: paired.remote });
      for (const d of [byCode, byPassword, byPairing]) {
        await d.vault.pull();
        assert.equal((await d.vault.get('r', 'after'))!['v'], 'secret');
        assert.deepEqual(await d.vault.get('r', 'before'), { id: 'before', v: 1 });
      }
      // After its revocation C still has raw write access (folder, S3): it squats the epoch after this one.
      await squatEpoch(c, c.remote, next + 1, [...ids, ...[byCode, byPassword, byPairing].map((d) => d.vault.deviceId)], 137);
      const newCode = await a.vault.devices.rotateRecoveryCode();
      assert.equal(await epochNow(a), next + 1);
      await a.vault.put('r', 'rotated', { v: 'r' });
      await a.vault.sync();
      for (const d of [b, byCode, byPassword, byPairing]) {
        await d.vault.sync();
        assert.equal((await d.vault.get('r', 'rotated'))!['v'], 'r');
      }
      const byNewCode = track(await joiner(newCode, 138, 'new code'));
      await byNewCode.vault.pull();
      assert.deepEqual(await byNewCode.vault.get('r', 'before'), { id: 'before', v: 1 });
      assert.equal((await byNewCode.vault.get('r', 'rotated'))!['v'], 'r');
      await assertUnreadableBy(c, a, c.remote);
    });

    test('password and recovery-code rotation: restore by password, wrong password, old code refused', async () => {
      const a = track(await founder(111));
      await a.vault.put('k', 'x', { v: 1 });
      await a.vault.sync();
      await rejectsWith(a.vault.devices.setPassword('password123'), ErrorCode.WeakPassword);
      await a.vault.devices.setPassword('correct horse battery');
      // Brute force costs one Argon2id evaluation per guess: the registry (readable by the
      // remote) holds only the Argon2id parameters and the derived public keys.
      const pw = a.vault.devices.passwordParameters()!;
      assert.ok(pw.memoryKiB >= 65536 && pw.iterations >= 3 && pw.parallelism === 1, `Argon2id parameters ${JSON.stringify(pw)}`);
      const remote = await h.openRemote();
      const store = await h.openStore();
      await rejectsWith(Vault.restore({ store, remote, remoteUrl: options.remoteUrl, password: 'wrong horse battery' }), ErrorCode.WrongPassword);
      assert.equal(await Vault.readConfig(store), undefined);
      const byPassword = track({
        vault: await Vault.restore({ store, remote, remoteUrl: options.remoteUrl, password: 'correct horse battery', deviceName: 'P', deps: deps(112) }),
        remote,
      });
      await byPassword.vault.pull();
      assert.deepEqual(await byPassword.vault.get('k', 'x'), { id: 'x', v: 1 });
      const newCode = await a.vault.devices.rotateRecoveryCode();
      assert.notEqual(newCode, a.code);
      await rejectsWith(joiner(a.code, 113), ErrorCode.WrongRecoveryCode);
      const byNewCode = track(await joiner(newCode, 114, 'N'));
      await byNewCode.vault.pull();
      assert.deepEqual(await byNewCode.vault.get('k', 'x'), { id: 'x', v: 1 });
      // The password still works after the rotation (it received the new epoch key too).
      const againRemote = await h.openRemote();
      const again = track({
        vault: await Vault.restore({
          store: await h.openStore(),
          remote: againRemote,
          remoteUrl: options.remoteUrl,
          password: 'correct horse battery',
          deps: deps(115),
        }),
        remote: againRemote,
      });
      await again.vault.put('k', 'y', { v: 2 });
      await again.vault.sync();
      await a.vault.sync();
      assert.deepEqual(await a.vault.get('k', 'y'), { id: 'y', v: 2 });
      await a.vault.devices.removePassword();
      await rejectsWith(
        Vault.restore({ store: await h.openStore(), remote: await h.openRemote(), remoteUrl: options.remoteUrl, password: 'correct horse battery' }),
        ErrorCode.WrongPassword,
      );
      await a.vault.devices.rename(a.vault.deviceId, 'laptop');
      await byNewCode.vault.sync();
      assert.equal((await byNewCode.vault.devices.list({ refresh: true })).find((d) => d.deviceId === a.vault.deviceId)?.name, 'laptop');
    });

    test('attachments: a blob stored on one device is read, verified, on another; dedup skips stored chunks', async () => {
      const a = track(await founder(121));
      const b = track(await joiner(a.code, 122));
      const data = new Uint8Array(1_500_000).map((_, i) => (i * 2654435761) >>> 24);
      const put = await a.vault.blobs.put(data, { name: 'photo.jpg', type: 'image/jpeg' });
      await a.vault.put('album', 'p1', { photo: put.ref });
      await a.vault.sync();
      await b.vault.sync();
      const ref = (await b.vault.get('album', 'p1'))!['photo'] as string;
      assert.deepEqual(await b.vault.blobs.bytes(ref), data);
      assert.equal((await b.vault.blobs.manifest(ref)).name, 'photo.jpg');
      assert.equal((await b.vault.blobs.put(data, { name: 'photo.jpg', type: 'image/jpeg' })).uploaded, 0);
    });

    test('a blob of an epoch started since a device last synced: it reads it and stores the same bytes once; the revoked device gets KITH_REVOKED', async () => {
      const a = track(await founder(151));
      const b = track(await joiner(a.code, 152, 'B'));
      const c = track(await joiner(a.code, 153, 'lost phone'));
      const d = track(await joiner(a.code, 154, 'D'));
      await b.vault.devices.revoke(c.vault.deviceId);
      const data = new Uint8Array(700_000).map((_, i) => (i * 2654435761) >>> 24);
      const put = await b.vault.blobs.put(data, { name: 'photo.jpg' });
      // A has not synced since: the new epoch is news to fetch, not damage.
      assert.deepEqual(await a.vault.blobs.bytes(put.ref), data);
      // D, behind too, learns the epoch before encrypting: same ref, nothing uploaded again.
      const again = await d.vault.blobs.put(data, { name: 'photo.jpg' });
      assert.deepEqual([again.ref, again.uploaded], [put.ref, 0]);
      await rejectsWith(c.vault.blobs.bytes(put.ref), ErrorCode.Revoked);
      await rejectsWith(c.vault.blobs.put(data), ErrorCode.Revoked);
    });

    test('snapshots: restored and paired devices start from the newest one with under half the bytes of a replay; a tampered one is refused, the older one used', async () => {
      const a = track(await founder(81));
      const rnd = seededRandom(86);
      // Values that do not compress away: the history is about six times the state.
      for (let round = 0; round < 6; round++) {
        await a.vault.batch((b) => {
          for (let i = 0; i < 40; i++) b.put('notes', `n${i}`, { title: `note ${i} round ${round}`, body: base64.encode(rnd(48)) });
        });
        await a.vault.sync();
      }
      await a.vault.delete('notes', 'n0');
      const replay = track(await joiner(a.code, 82, 'replay'));
      await replay.vault.sync(); // no snapshot yet: the whole history
      await a.vault.snapshot();
      await a.vault.put('notes', 'tail', { title: 'between the snapshots' });
      const newer = await a.vault.snapshot();
      await a.vault.put('notes', 'tail2', { title: 'after the snapshots' });
      await a.vault.sync();
      const b = track(await joiner(a.code, 83, 'boot'));
      assert.equal((await b.vault.sync()).warnings, undefined);
      assert.deepEqual(await docs(b.vault, 'notes'), await docs(a.vault, 'notes'));
      assert.ok(
        b.remote.stats.bytesReceived < replay.remote.stats.bytesReceived / 2,
        `bootstrap ${b.remote.stats.bytesReceived} bytes, replay ${replay.remote.stats.bytesReceived}`,
      );
      // Joining by pairing starts from the snapshot too.
      const { joined, remote } = await pairWith(a, 84);
      assert.equal(joined.status, 'fulfilled');
      const paired = track({ vault: joined.value, remote });
      assert.equal((await paired.vault.sync()).warnings, undefined);
      assert.deepEqual(await docs(paired.vault, 'notes'), await docs(a.vault, 'notes'));
      // The remote alters the newest snapshot: refused with a warning, the older one used, nothing lost.
      const evil = await h.openRemote();
      const bytes = (await evil.get(newer.snapshot))!;
      bytes[bytes.length - 80]! ^= 1;
      await evil.put(newer.snapshot, bytes);
      await evil.close();
      const c = track(await joiner(a.code, 85, 'after tampering'));
      const warned = (await c.vault.sync()).warnings ?? [];
      assert.deepEqual(
        warned.map((w) => w.code),
        [WarningCode.SnapshotRefused],
      );
      assert.deepEqual(await docs(c.vault, 'notes'), await docs(a.vault, 'notes'));
    });

    test('compaction: covered segments go; a device away past the horizon merges the snapshot and keeps its unpushed writes; a segment withheld above the snapshot is KITH_INTEGRITY_WITHHELD', async () => {
      const a = track(await founder(91, undefined, { everyHours: false })); // A compacts when told to only
      const b = track(await joiner(a.code, 92));
      for (let i = 0; i < 4; i++) {
        await a.vault.put('notes', `n${i}`, { i });
        await a.vault.sync();
      }
      await b.vault.sync();
      await b.vault.put('notes', 'offline', { by: 'b' }); // never pushed while B is away
      await a.vault.delete('notes', 'n0');
      await a.vault.sync();
      now += 91 * 86_400_000; // B is not seen for longer than the horizon
      await a.vault.put('notes', 'n1', { i: 10 });
      await a.vault.sync();
      await a.vault.snapshot();
      now += 25 * 3_600_000; // the snapshot is older than the grace period
      for (const id of ['t1', 't2']) {
        await a.vault.put('notes', id, { tail: true });
        await a.vault.sync();
      }
      const r = await a.vault.compact();
      assert.ok(r.deleted >= 5 && r.bytes > 0, JSON.stringify(r));
      const evil = await h.openRemote();
      const segs = (await evil.list(remoteKeys.segmentPrefix(a.vault.deviceId))).map((i) => Number(i.key.split('/').pop()));
      assert.ok(!segs.includes(1), `segment 1 was compacted: ${segs.join(',')}`);
      // The remote withholds a segment above the snapshot's vector (not the newest): refused, not taken for compaction.
      const above = remoteKeys.segment(a.vault.deviceId, Math.max(...segs) - 1);
      const kept = (await evil.get(above))!;
      await evil.delete(above);
      await rejectsWith(b.vault.sync(), ErrorCode.IntegrityWithheld);
      await evil.put(above, kept);
      await evil.close();
      await b.vault.sync();
      await a.vault.sync();
      const want = await docs(a.vault, 'notes');
      assert.deepEqual(
        want.map((d) => d.id),
        ['n1', 'n2', 'n3', 'offline', 't1', 't2'],
      );
      assert.deepEqual(await docs(b.vault, 'notes'), want);
    });

    test('three devices with random writes and syncs converge to the same records and conflicts', async () => {
      const a = track(await founder(71));
      await a.vault.push();
      const b = track(await joiner(a.code, 72));
      const c = track(await joiner(a.code, 73));
      const ds = [a, b, c];
      const rnd = seededRandom(74);
      const pick = (n: number) => rnd(1)[0]! % n;
      for (let step = 0; step < 120; step++) {
        const d = ds[pick(3)]!;
        const id = `r${pick(6)}`;
        const r = pick(10);
        // Patch, like delete, needs a live record: a miss is KITH_NOT_FOUND.
        if (r < 4) await d.vault.patch('c', id, { [`f${pick(3)}`]: pick(100) }).catch((e: unknown) => assert.ok(KithError.is(e, ErrorCode.NotFound)));
        else if (r < 6) await d.vault.put('c', id, { f0: pick(100) });
        else if (r < 7) await d.vault.delete('c', id).catch((e: unknown) => assert.ok(KithError.is(e, ErrorCode.NotFound)));
        else await d.vault.sync();
      }
      for (let round = 0; round < 2; round++) for (const d of ds) await d.vault.sync();
      const expected = await docs(a.vault, 'c');
      for (const d of ds) {
        assert.deepEqual(await docs(d.vault, 'c'), expected);
        assert.deepEqual(await d.vault.conflicts(), await a.vault.conflicts());
      }
    });
  });
}
