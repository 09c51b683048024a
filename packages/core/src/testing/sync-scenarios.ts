/**
 * @module testing/sync-scenarios
 * End-to-end sync scenarios that every remote runs with a real store:
 * two devices, idle cost, tampering by the remote, interrupted pushes and
 * multi-device convergence. Tampering goes through a second client of the
 * same remote location, as a malicious remote operator would.
 */
import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Vault } from '../vault.js';
import { KithError, ErrorCode, isIntegrityError } from '../errors.js';
import { encodePayload } from '../ops.js';
import { generateDeviceKeys, newEpochKey, recoveryKeys, sha256, signingKeyFromSeed } from '../crypto/index.js';
import { base64 } from '@scure/base';
import { seededRandom } from '../deps.js';
import { stampTime } from '../hlc.js';
import { decodeSegment, encodeHead, encodeRegistryEntry, encodeSegment, remoteKeys } from '../format/index.js';
import type { Remote } from '../remote.js';
import type { Store } from '../store.js';
import type { Doc } from '../vault-types.js';

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

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof KithError, `expected KithError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

/** Registers the scenarios under `describe(name)`; `setup` runs before each scenario, `cleanup` after it. */
export function runSyncScenarios(name: string, setup: () => Promise<ScenarioHarness>, options: ScenarioOptions): void {
  describe(`sync scenarios: ${name}`, () => {
    let h: ScenarioHarness;
    let now = Date.UTC(2026, 10, 1);
    /** Each device has its own randomness and a clock `skew` ms off the true time. */
    const deps = (seed: number, skew = 0) => ({ random: seededRandom(seed), now: () => (now += 7) + skew });
    const founder = async (seed = 1, location?: string): Promise<Device & { code: string }> => {
      const remote = await h.openRemote(location);
      const store = await h.openStore();
      const { vault, recoveryCode } = await Vault.create({ store, remote, remoteUrl: options.remoteUrl, deviceName: 'A', deps: deps(seed) });
      return { vault, remote, store, code: recoveryCode };
    };
    const joiner = async (code: string, seed = 2, nameOf = 'B', skew = 0): Promise<Device> => {
      const remote = await h.openRemote();
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

    test('an idle pull costs one listing and no reads, however long the history', async () => {
      const a = track(await founder(21));
      for (let round = 0; round < 5; round++) {
        await a.vault.put('log', `r${round}`, { round });
        await a.vault.push();
      }
      const b = track(await joiner(a.code, 22));
      await b.vault.pull();
      await b.vault.sync(); // b's first head names the registry it has seen (once per registry change)
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
        ['flipped byte', async () => {
          const bad = orig.get(2)!.slice();
          bad[Math.floor(bad.length / 2)]! ^= 0x01;
          await evil.put(key(2), bad);
        }, ErrorCode.IntegrityCorrupt],
        ['truncated', async () => evil.put(key(2), orig.get(2)!.subarray(0, orig.get(2)!.length - 10)), ErrorCode.IntegrityCorrupt],
        ['replayed older segment', async () => evil.put(key(2), orig.get(1)!), ErrorCode.IntegrityChain],
        ['reordered', async () => {
          await evil.put(key(2), orig.get(3)!);
          await evil.put(key(3), orig.get(2)!);
        }, ErrorCode.IntegrityChain],
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
          assert.deepEqual((await docs(b.vault, 't')).map((d) => d.id), ['s1', 's2', 's3'], `${label}: recovers once repaired`);
        } finally {
          await restoreAll();
          await b.vault.close();
        }
      }
      await evil.close();
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
        await encodeHead({ vaultId: a.vault.vaultId, deviceId: stranger.deviceId, seq: 1, hash: seg.hash, registrySeq: 0, registryHash: new Uint8Array(32), signSeed: stranger.sign.seed }),
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

    test('pairing through the remote: both sides show the same code; the new device syncs; codes work once', async () => {
      const a = track(await founder(91));
      await a.vault.put('p', 'x', { v: 1 });
      await a.vault.sync();
      const pairOnce = async (seed: number, o: { tamper?: boolean; decline?: boolean } = {}) => {
        let onSas: (s: string) => void = () => undefined;
        // The person compares both screens: the inviter's answer waits until the joiner shows its code (or gives up).
        const joinerSas = new Promise<string>((resolve) => {
          onSas = resolve;
          setTimeout(() => resolve(''), 10_000).unref();
        });
        let onCode: (c: string) => void = () => undefined;
        const codeReady = new Promise<string>((resolve) => (onCode = resolve));
        const inviter = a.vault.pair({
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
        const joining = Vault.join({ store: await h.openStore(), remote, remoteUrl: options.remoteUrl, code, deviceName: 'paired', deps: deps(seed), pollMs: 10, onSas: (s) => onSas(s) });
        const [inv, joined] = await Promise.allSettled([inviter, joining]);
        await evil.close();
        return { inv, joined, code, remote };
      };
      const ok = await pairOnce(92);
      assert.equal(ok.joined.status, 'fulfilled', String((ok.joined as PromiseRejectedResult).reason));
      assert.equal(ok.inv.status, 'fulfilled');
      const b = track({ vault: (ok.joined).value, remote: ok.remote });
      const invited = (ok.inv as PromiseFulfilledResult<{ deviceId: string; sas: string }>).value;
      assert.equal(invited.deviceId, b.vault.deviceId);
      assert.match(invited.sas, /^\d{3} \d{3}$/);
      await b.vault.sync();
      assert.deepEqual(await b.vault.get('p', 'x'), { id: 'x', v: 1 });
      assert.deepEqual((await a.vault.devices({ refresh: true })).map((d) => d.name).sort(), ['A', 'paired']);
      // The same code again: refused, the home stays reusable.
      const store = await h.openStore();
      await rejectsWith(Vault.join({ store, remote: await h.openRemote(), remoteUrl: options.remoteUrl, code: ok.code, pollMs: 10 }), ErrorCode.PairingExpired);
      assert.equal(await Vault.readConfig(store), undefined);
      // A tampered offer is refused by the new device; the inviter then times out cleanly.
      const tampered = await pairOnce(93, { tamper: true });
      assert.equal(tampered.joined.status, 'rejected');
      assert.ok(isIntegrityError((tampered.joined).reason));
      assert.equal(tampered.inv.status, 'rejected');
      assert.ok(KithError.is((tampered.inv).reason, ErrorCode.PairingExpired));
      // A declined pairing fails on both sides and adds nobody.
      const declined = await pairOnce(94, { decline: true });
      assert.ok(KithError.is((declined.joined as PromiseRejectedResult).reason, ErrorCode.PairingDeclined));
      assert.ok(KithError.is((declined.inv as PromiseRejectedResult).reason, ErrorCode.PairingDeclined));
      assert.equal((await a.vault.devices({ refresh: true })).length, 2);
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
      await a.vault.revokeDevice(c.vault.deviceId);
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
      assert.deepEqual((await b.vault.devices()).find((d) => d.deviceId === c.vault.deviceId)?.revoked, true);
      // Crypto level: nothing written after the revocation opens with any key the revoked device holds.
      const held = (await c.store!.read((tx) => tx.getMeta('epochs'))) as Record<string, string>;
      const stolen = new Map(Object.entries(held).map(([e, k]) => [Number(e), base64.decode(k)] as const));
      const aSeed = ((await a.store!.read((tx) => tx.getMeta('device'))) as { signSeed: string }).signSeed;
      const evil = await h.openRemote();
      const aSegs = await evil.list(remoteKeys.segmentPrefix(a.vault.deviceId));
      const newest = (await evil.get(aSegs.at(-1)!.key))!;
      const seq = Number(aSegs.at(-1)!.key.split('/').pop());
      assert.ok(stolen.size > 0);
      for (const [epoch, key] of stolen) {
        await assert.rejects(
          decodeSegment(newest, {
            vaultId: a.vault.vaultId,
            deviceId: a.vault.deviceId,
            seq,
            signPub: signingKeyFromSeed(base64.decode(aSeed)).pub,
            epochKey: () => key,
            maxPayloadBytes: 1 << 20,
          }),
          (e: unknown) => isIntegrityError(e),
          `epoch ${epoch}'s key opened a segment written after the revocation`,
        );
      }
      // Deleting the revocation from the remote does not bring the device back, for old or new devices.
      const entries = await evil.list(remoteKeys.registryPrefix);
      const last = entries.at(-1)!;
      const saved = (await evil.get(last.key))!;
      await evil.delete(last.key);
      await b.vault.sync();
      assert.equal((await b.vault.devices()).find((d) => d.deviceId === c.vault.deviceId)?.revoked, true);
      await rejectsWith(joiner(a.code, 104, 'fresh'), ErrorCode.IntegrityChain);
      await evil.put(last.key, saved);
      const fresh = track(await joiner(a.code, 105, 'fresh'));
      await fresh.vault.pull();
      assert.equal((await fresh.vault.get('r', 'after'))!['v'], 'secret', 'a device that joined later reads the new epoch');
      assert.deepEqual(await fresh.vault.get('r', 'before'), { id: 'before', v: 1 }, 'and the old one, through the epoch chain');
      await evil.close();
    });

    test('password and recovery-code rotation: restore by password, wrong password, old code refused', async () => {
      const a = track(await founder(111));
      await a.vault.put('k', 'x', { v: 1 });
      await a.vault.sync();
      await rejectsWith(a.vault.setPassword('password123'), ErrorCode.WeakPassword);
      await a.vault.setPassword('correct horse battery');
      // Brute force costs one Argon2id evaluation per guess: the registry (readable by the
      // remote) holds only the Argon2id parameters and the derived public keys.
      const pw = a.vault.passwordParameters()!;
      assert.ok(pw.memoryKiB >= 65536 && pw.iterations >= 3 && pw.parallelism === 1, `Argon2id parameters ${JSON.stringify(pw)}`);
      const remote = await h.openRemote();
      const store = await h.openStore();
      await rejectsWith(Vault.restore({ store, remote, remoteUrl: options.remoteUrl, password: 'wrong horse battery' }), ErrorCode.WrongPassword);
      assert.equal(await Vault.readConfig(store), undefined);
      const byPassword = track({ vault: await Vault.restore({ store, remote, remoteUrl: options.remoteUrl, password: 'correct horse battery', deviceName: 'P', deps: deps(112) }), remote });
      await byPassword.vault.pull();
      assert.deepEqual(await byPassword.vault.get('k', 'x'), { id: 'x', v: 1 });
      const newCode = await a.vault.rotateRecoveryCode();
      assert.notEqual(newCode, a.code);
      await rejectsWith(joiner(a.code, 113), ErrorCode.WrongRecoveryCode);
      const byNewCode = track(await joiner(newCode, 114, 'N'));
      await byNewCode.vault.pull();
      assert.deepEqual(await byNewCode.vault.get('k', 'x'), { id: 'x', v: 1 });
      // The password still works after the rotation (it received the new epoch key too).
      const againRemote = await h.openRemote();
      const again = track({ vault: await Vault.restore({ store: await h.openStore(), remote: againRemote, remoteUrl: options.remoteUrl, password: 'correct horse battery', deps: deps(115) }), remote: againRemote });
      await again.vault.put('k', 'y', { v: 2 });
      await again.vault.sync();
      await a.vault.sync();
      assert.deepEqual(await a.vault.get('k', 'y'), { id: 'y', v: 2 });
      await a.vault.removePassword();
      await rejectsWith(Vault.restore({ store: await h.openStore(), remote: await h.openRemote(), remoteUrl: options.remoteUrl, password: 'correct horse battery' }), ErrorCode.WrongPassword);
      await a.vault.renameDevice(a.vault.deviceId, 'laptop');
      await byNewCode.vault.sync();
      assert.equal((await byNewCode.vault.devices({ refresh: true })).find((d) => d.deviceId === a.vault.deviceId)?.name, 'laptop');
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
        if (r < 4) await d.vault.patch('c', id, { [`f${pick(3)}`]: pick(100) });
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
