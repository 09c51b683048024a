/**
 * @module testing/check-scenarios
 * `vault.check()` through every remote: a clean vault (three devices, one
 * revoked, so two epochs and a `previous` link; records and a blob) is
 * reported ok; then each kind of damage, done through a second client of
 * the same location as a malicious or careless operator would, is found
 * with the right kind, key and code, and nothing else is reported. Each
 * damage is undone before the next, and the vault checks clean again.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Vault } from '../vault/vault.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { seededRandom } from '../base/deps.js';
import { generateDeviceKeys, sha256 } from '../crypto/index.js';
import { encodeRegistryEntry, remoteKeys } from '../format/index.js';
import { sealKeyTo } from '../identity/epoch-seals.js';
import { blobId, blobKeys, encodeBlobObject, parseBlobRef } from '../format/blob-format.js';
import type { Remote } from '../ports/remote.js';
import { countingRemote, type CountingRemote } from '../ports/counting.js';
import type { CheckProblemKind, CheckReport } from '../check/index.js';
import { withWrites } from '../check/run.js';
import type { ScenarioHarness } from './sync-scenarios.js';
import { membershipKey, encodeMembershipEntry } from '../spaces/membership-entry.js';
import { decodeDeviceCert, deviceCertKey, encodeDeviceCert } from '../spaces/device-cert.js';
import { sealedIdentityKey, sealIdentity } from '../spaces/person.js';
import { encodeSpaceEpoch, spaceEpochKey, type SpaceEpochEntry } from '../spaces/epoch-entry.js';
import { sealEpochKey } from '../format/sealed-key.js';
import { openSpaceEpochKey } from '../spaces/epochs.js';
import {
  deviceSecrets,
  foundSpace,
  person,
  remoteRegistry,
  underPrefix,
  writeEpochSpaceFixture,
  writeSpaceFixture,
  type EpochSpaceFixture,
  type SpaceFixture,
} from './check-spaces.js';
import { testDevice, type TestDevice, type TestPerson } from './space-people.js';

type Expected = [kind: CheckProblemKind, key: string, code: string];

const problemsOf = (r: CheckReport): Expected[] => r.problems.map((p) => [p.kind, p.key, p.code]);

/** Registers the check scenarios under `describe(name)` on a fresh location of `setup`'s harness. */
export function runCheckScenarios(name: string, setup: () => Promise<ScenarioHarness>, options: { remoteUrl: string }): void {
  describe(`check scenarios: ${name}`, { timeout: 600_000 }, () => {
    let h: ScenarioHarness;
    let a: Vault;
    let evil: Remote;
    let now = Date.UTC(2026, 10, 1);
    const deps = (seed: number) => ({ random: seededRandom(seed), now: () => (now += 7) });
    const opened: Vault[] = [];
    let aRemote: CountingRemote;
    let chunkId = '';
    let revoked: Vault;
    let code = '';
    let revokedId = '';
    let otherId = '';

    before(async () => {
      h = await setup();
      aRemote = countingRemote(await h.openRemote());
      const { vault, recoveryCode } = await Vault.create({
        store: await h.openStore(),
        remote: aRemote,
        remoteUrl: options.remoteUrl,
        deviceName: 'A',
        deps: deps(1),
      });
      a = vault;
      code = recoveryCode;
      opened.push(a);
      const join = async (seed: number, deviceName: string): Promise<Vault> => {
        const v = await Vault.restore({
          store: await h.openStore(),
          remote: await h.openRemote(),
          remoteUrl: options.remoteUrl,
          recoveryCode,
          deviceName,
          deps: deps(seed),
        });
        opened.push(v);
        return v;
      };
      for (let i = 1; i <= 3; i++) {
        await a.put('notes', `n${i}`, { i });
        await a.push();
      }
      const b = await join(2, 'B');
      await b.sync();
      await b.put('notes', 'b1', { by: 'B' });
      await b.sync();
      const c = await join(3, 'C');
      await c.put('notes', 'c1', { by: 'C' });
      await c.sync();
      await a.devices.revoke(c.deviceId); // epoch 1, with a `previous` link
      revoked = c;
      revokedId = c.deviceId;
      otherId = b.deviceId;
      const put = await a.blobs.put(
        new Uint8Array(300 * 1024).map((_, i) => (i * 31) % 251),
        { name: 'photo.bin' },
      );
      await a.put('photos', 'p1', { file: put.ref });
      await a.sync();
      await b.sync();
      await a.sync();
      chunkId = (await a.blobs.manifest(put.ref)).chunks[0]![0];
      evil = await h.openRemote();
    });
    after(async () => {
      for (const v of opened) await v.close().catch(() => undefined);
      await evil?.close().catch(() => undefined);
      await h?.cleanup();
    });

    /** Applies `damage`, checks that exactly `expected` is found, undoes it, and checks clean again. */
    const found = async (damage: () => Promise<() => Promise<unknown>>, expected: Expected[], o: { readData?: boolean } = {}): Promise<void> => {
      const undo = await damage();
      try {
        const r = await a.check(o);
        assert.equal(r.ok, false);
        assert.deepEqual(problemsOf(r), expected, JSON.stringify(r.problems, null, 1));
        for (const p of r.problems) {
          assert.ok(p.message.length > 0 && !p.message.includes('\n'), p.message);
          assert.ok(p.hint.length > 0 && !p.hint.includes('\n'), p.hint);
        }
      } finally {
        await undo();
      }
      assert.deepEqual((await a.check(o)).problems, []);
    };
    /** Replaces an object; the undo puts the original back. */
    const replace = (key: string, change: (bytes: Uint8Array) => Uint8Array | Promise<Uint8Array>) => async () => {
      const orig = (await evil.get(key))!;
      await evil.put(key, await change(orig.slice()));
      return () => evil.put(key, orig);
    };
    const remove = (key: string) => async () => {
      const orig = (await evil.get(key))!;
      await evil.delete(key);
      return () => evil.put(key, orig);
    };
    const add = (key: string, bytes: Uint8Array) => async () => {
      await evil.put(key, bytes);
      return () => evil.delete(key);
    };
    const seg = (seq: number) => remoteKeys.segment(a.deviceId, seq);
    /** Where `epoch`'s key for `recipient` lives: epoch 1 was opened by a version 2 entry, so under its keyId (`keys/<epoch>/<keyId>/<recipient>`). */
    const sealedAt = async (epoch: number, recipient: string): Promise<string> => {
      const found = (await evil.list(remoteKeys.sealedKey(epoch, '')))
        .map((i) => i.key)
        .filter((k) => k.split('/').length === 4 && k.endsWith(`/${recipient}`));
      assert.equal(found.length, 1, found.join(' '));
      return found[0]!;
    };

    test('a clean vault is ok, with and without --read-data, and the check writes nothing', async () => {
      const writes = aRemote.stats.puts + aRemote.stats.deletes;
      const progress: [number, number][] = [];
      const r = await a.check({ onProgress: (p) => progress.push([p.done, p.total]) });
      assert.deepEqual(r.problems, []);
      assert.equal(r.ok, true);
      assert.equal(r.readData, false);
      assert.equal(r.checked.vault, 1);
      assert.equal(r.checked.registry, 4, 'add A, B and C, revoke C');
      assert.equal(r.checked.heads, 3);
      assert.equal(r.checked.segments, 6, 'A: 3 + the photo record, B: 1, C: 1');
      assert.equal(r.checked.keys, 8, 'epoch 0: A, B, C, recovery; epoch 1: A, B, recovery, previous');
      assert.equal(r.checked.manifests, 1);
      assert.equal(r.checked.chunks, 1);
      assert.equal(r.checked.chunksRead, 0);
      const last = progress.at(-1)!;
      assert.equal(last[0], last[1], 'progress reaches its total');
      const full = await a.check({ readData: true });
      assert.deepEqual(full.problems, []);
      assert.equal(full.checked.chunksRead, 1);
      assert.equal(aRemote.stats.puts + aRemote.stats.deletes, writes);
    });

    test('a bit-flipped segment is damaged', () =>
      found(
        replace(seg(2), (b) => ((b[b.length - 100]! ^= 0x10), b)),
        [['damaged', seg(2), ErrorCode.IntegrityCorrupt]],
      ));

    test('a deleted middle segment is missing', () => found(remove(seg(2)), [['missing', seg(2), ErrorCode.IntegrityChain]]));

    test("a deleted middle segment of this device's own is missing until the repair's next audit (within a day) puts its kept copy back", async () => {
      const orig = (await evil.get(seg(2)))!;
      await evil.delete(seg(2));
      try {
        const r = await a.check();
        assert.deepEqual(problemsOf(r), [['missing', seg(2), ErrorCode.IntegrityChain]]);
        assert.match(r.problems[0]!.hint, /this device keeps a copy/);
        now += 25 * 3600 * 1000; // the next audit is due
        await a.sync();
        assert.deepEqual(await evil.get(seg(2)), orig);
        assert.deepEqual((await a.check()).problems, []);
      } finally {
        if (!(await evil.head(seg(2)))) await evil.put(seg(2), orig);
      }
    });

    test('a truncated head is damaged', () =>
      found(
        replace(remoteKeys.head(a.deviceId), (b) => b.subarray(0, b.length - 10)),
        [['damaged', remoteKeys.head(a.deviceId), ErrorCode.IntegrityCorrupt]],
      ));

    test('a registry entry signed by a stranger is foreign', async () => {
      const listed = await evil.list(remoteKeys.registryPrefix);
      const last = listed.at(-1)!;
      const seq = Number(last.key.slice(remoteKeys.registryPrefix.length)) + 1;
      const stranger = generateDeviceKeys(seededRandom(99));
      const prevHash = await sha256((await evil.get(last.key))!);
      const { bytes } = await encodeRegistryEntry(
        a.vaultId,
        {
          seq,
          prevHash,
          at: now,
          signer: stranger.deviceId,
          change: { kind: 'add', deviceId: stranger.deviceId, name: 'evil', signPub: stranger.sign.pub, boxPub: stranger.box.pub },
        },
        stranger.sign.seed,
      );
      await found(add(remoteKeys.registryEntry(seq), bytes), [['foreign', remoteKeys.registryEntry(seq), ErrorCode.IntegrityUnknownSigner]]);
    });

    test('a sealed key signed by a stranger is foreign', async () => {
      const key = await sealedAt(1, 'recovery');
      const stranger = generateDeviceKeys(seededRandom(98));
      const forged = await sealKeyTo(
        { vaultId: a.vaultId, signerId: stranger.deviceId, signerSeed: stranger.sign.seed, random: seededRandom(97) },
        1,
        new Uint8Array(32),
        'recovery',
        stranger.box.pub,
      );
      await found(
        replace(key, () => forged),
        [['foreign', key, ErrorCode.IntegrityUnknownSigner]],
      );
    });

    test('a sealed key where no reader looks is unreferenced: a version 1 place of an epoch whose entry carries a key check, another keyId, a keyId for an epoch without one', async () => {
      const epoch1 = (await evil.get(await sealedAt(1, 'recovery')))!;
      const epoch0 = (await evil.get(remoteKeys.sealedKey(0, 'recovery')))!;
      const misplaced: [string, Uint8Array][] = [
        [remoteKeys.sealedKey(1, 'recovery'), epoch1],
        [remoteKeys.sealedKey(1, 'recovery', '0'.repeat(16)), epoch1],
        [remoteKeys.sealedKey(0, 'recovery', 'ab'.repeat(8)), epoch0],
      ];
      for (const [key, bytes] of misplaced) await found(add(key, bytes), [['unreferenced', key, ErrorCode.UnreferencedObject]]);
    });

    test('a removed registry entry and a removed link to the previous epoch are missing', async () => {
      const last = (await evil.list(remoteKeys.registryPrefix)).at(-1)!.key;
      await found(remove(last), [['missing', last, ErrorCode.IntegrityChain]]);
      const link = await sealedAt(1, 'previous');
      await found(remove(link), [['missing', link, ErrorCode.NotFound]]);
    });

    /**
     * Pushes one more segment, then `rollBack` puts the head from before it back (it gets the old bytes
     * and returns the undo): the head is a rollback and the segment it no longer names unreferenced.
     */
    const olderHeadFound = async (id: string, rollBack: (headKey: string, old: Uint8Array) => Promise<() => Promise<unknown>>): Promise<void> => {
      const headKey = remoteKeys.head(a.deviceId);
      const old = (await evil.get(headKey))!;
      const seq = (await evil.list(remoteKeys.segmentPrefix(a.deviceId))).length + 1;
      await a.put('notes', id, { later: true });
      await a.push();
      await found(
        () => rollBack(headKey, old),
        [
          ['damaged', headKey, ErrorCode.IntegrityRollback],
          ['unreferenced', seg(seq), ErrorCode.UnreferencedObject],
        ],
      );
    };

    test('an older head put back is damaged (a rollback), and the segment it no longer names is unreferenced', () =>
      olderHeadFound('later', (headKey, old) => replace(headKey, () => old)()));

    test("an older own head is still a rollback once a pull has marked it for the next push (the repair's push state), until that push writes it again", () =>
      olderHeadFound('later again', async (headKey, old) => {
        await evil.put(headKey, old);
        await a.pull(); // the repair finds its own head rolled back and marks it dirty
        return async () => void (await a.push());
      }));

    test('a blob chunk deleted is missing', () => found(remove(blobKeys.chunk(chunkId)), [['missing', blobKeys.chunk(chunkId), ErrorCode.NotFound]]));

    test('an upload no record refers to is unreferenced: its manifest, or its chunks once the manifest is gone', async () => {
      const bytes = new Uint8Array(1000).fill(3);
      const upload = async () => {
        const ref = (await a.blobs.put(bytes)).ref;
        return { manifest: blobKeys.manifest(parseBlobRef(ref)), chunk: blobKeys.chunk((await a.blobs.manifest(ref)).chunks[0]![0]) };
      };
      const keys = await upload();
      const removeAll = () => Promise.all([evil.delete(keys.manifest), evil.delete(keys.chunk)]).then(() => undefined);
      await found(async () => removeAll, [['unreferenced', keys.manifest, ErrorCode.UnreferencedObject]]);
      await found(async () => {
        await upload();
        await evil.delete(keys.manifest);
        return removeAll;
      }, [['unreferenced', keys.chunk, ErrorCode.UnreferencedObject]]);
    });

    test('GC marks are read: a mark whose object is gone is unreferenced, a mark of the wrong size damaged', async () => {
      const ref = (await a.blobs.put(new Uint8Array(2000).fill(9))).ref;
      const id = parseBlobRef(ref);
      const chunk = (await a.blobs.manifest(ref)).chunks[0]![0];
      await a.blobs.gc(); // marks the upload no record refers to
      const marks = [blobKeys.gcMark(`c-${chunk}`), blobKeys.gcMark(`m-${id}`)];
      const r = await a.check();
      assert.equal(r.checked.marks, 2);
      assert.deepEqual(problemsOf(r), [['unreferenced', blobKeys.manifest(id), ErrorCode.UnreferencedObject]]);
      await evil.delete(blobKeys.manifest(id));
      await evil.delete(blobKeys.chunk(chunk));
      await evil.put(marks[1]!, new Uint8Array(3));
      await found(
        async () => () => Promise.all(marks.map((m) => evil.delete(m))).then(() => undefined),
        [
          ['unreferenced', marks[0]!, ErrorCode.UnreferencedObject],
          ['damaged', marks[1]!, ErrorCode.IntegrityCorrupt],
        ],
      );
    });

    test('a corrupted chunk is found only with readData', async () => {
      const key = blobKeys.chunk(chunkId);
      const undo = await replace(key, (b) => ((b[b.length - 20]! ^= 1), b))();
      try {
        assert.deepEqual((await a.check()).problems, []);
      } finally {
        await undo();
      }
      await found(
        replace(key, (b) => ((b[b.length - 20]! ^= 1), b)),
        [['damaged', key, ErrorCode.IntegrityCorrupt]],
        { readData: true },
      );
    });

    test("a revoked device's objects from after its revocation are foreign: a segment past its last one, a later epoch's key sealed to it", async () => {
      const late = remoteKeys.segment(revokedId, 2);
      await found(add(late, (await evil.get(remoteKeys.segment(revokedId, 1)))!), [['foreign', late, ErrorCode.Revoked]]);
      const other = await sealedAt(1, otherId);
      const sealed = other.slice(0, other.length - otherId.length) + revokedId;
      await found(add(sealed, (await evil.get(other))!), [['foreign', sealed, ErrorCode.Revoked]]);
    });

    test('a cancelled check rejects with KITH_ABORTED', async () => {
      const ac = new AbortController();
      ac.abort();
      await assert.rejects(a.check({ signal: ac.signal }), (e: unknown) => e instanceof KithError && e.code === ErrorCode.Aborted);
      // Cancelled after the last sealed key is read: the next step is the segments', between two reads.
      const { checked } = await a.check();
      const late = new AbortController();
      await assert.rejects(
        a.check({ signal: late.signal, onProgress: (p) => (p.done === checked.vault + checked.registry + checked.keys ? late.abort() : undefined) }),
        (e: unknown) => e instanceof KithError && e.code === ErrorCode.Aborted,
      );
    });

    test('a revoked device cannot check: KITH_REVOKED, not a list of keys it cannot open', async () => {
      await assert.rejects(revoked.check(), (e: unknown) => e instanceof KithError && e.code === ErrorCode.Revoked);
    });

    /** Flips one random bit of one of `keys` at a time: the check must report that very object (not as merely unreferenced). */
    const flippedBitsFound = (keys: readonly string[], o: { readData?: boolean }, seed: number) =>
      fc.assert(
        fc.asyncProperty(fc.nat(keys.length - 1), fc.nat(), fc.nat(7), async (k, at, bit) => {
          const key = keys[k]!;
          const orig = (await evil.get(key))!;
          const bad = orig.slice();
          bad[at % bad.length]! ^= 1 << bit;
          await evil.put(key, bad);
          try {
            const r = await a.check(o);
            assert.ok(
              r.problems.some((p) => p.key === key && p.kind !== 'unreferenced'),
              `${key} byte ${at % bad.length}: ${JSON.stringify(r.problems)}`,
            );
          } finally {
            await evil.put(key, orig);
          }
        }),
        { numRuns: 20, seed },
      );

    test('property: one flipped bit anywhere in any object is reported against that object (with readData)', async () => {
      const keys = (await evil.list('')).map((i) => i.key);
      await flippedBitsFound(keys, { readData: true }, 12);
      assert.deepEqual((await a.check({ readData: true })).problems, []);
    });

    test("this device's push cut off between a segment and its head: the segment is unreferenced, not a rollback; the next push completes it", async () => {
      let headsFail = false;
      const inner = await h.openRemote();
      const flaky = withWrites(inner, {
        put: async (key, bytes, o) => {
          if (headsFail && key.startsWith(remoteKeys.headsPrefix)) throw new KithError(ErrorCode.RemoteUnavailable, 'cut off');
          return inner.put(key, bytes, o);
        },
      });
      const d = await Vault.restore({
        store: await h.openStore(),
        remote: flaky,
        remoteUrl: options.remoteUrl,
        recoveryCode: code,
        deviceName: 'D',
        deps: deps(5),
      });
      opened.push(d);
      await d.sync();
      await d.put('notes', 'd1', { by: 'D' });
      headsFail = true;
      await assert.rejects(d.push());
      const cut = remoteKeys.segment(d.deviceId, 1);
      assert.deepEqual(problemsOf(await d.check()), [['unreferenced', cut, ErrorCode.UnreferencedObject]]);
      headsFail = false;
      await d.push();
      assert.deepEqual((await d.check()).problems, []);
    });

    test('stray objects are foreign: an unknown prefix, a head of a device never added', async () => {
      const stranger = generateDeviceKeys(seededRandom(96));
      const head = remoteKeys.head(stranger.deviceId);
      await found(add('junk/notes.txt', new TextEncoder().encode('hello')), [['foreign', 'junk/notes.txt', ErrorCode.ForeignObject]]);
      await found(add(head, (await evil.get(remoteKeys.head(a.deviceId)))!), [['foreign', head, ErrorCode.IntegrityUnknownSigner]]);
    });

    describe('the spaces: sealed identities, a shared space, an invite', () => {
      let e: Vault;
      let fx: SpaceFixture;
      let signSeed: Uint8Array;
      const member = (seq: number) => fx.root + membershipKey(seq);
      const cert = (personId: string, version: number) => fx.root + deviceCertKey(personId, version);
      before(async () => {
        const store = await h.openStore();
        e = await Vault.restore({ store, remote: await h.openRemote(), remoteUrl: options.remoteUrl, recoveryCode: code, deviceName: 'E', deps: deps(6) });
        opened.push(e);
        signSeed = (await deviceSecrets(store)).signSeed;
        fx = await writeSpaceFixture(evil, a.vaultId, e.deviceId, signSeed, deps(7));
      });
      after(async () => {
        for (const key of fx?.keys ?? []) await evil.delete(key);
      });

      test('a vault with a shared space is ok: every object of it verified, from the sealing device and from another', async () => {
        for (const v of [a, e]) {
          const r = await v.check();
          assert.deepEqual(r.problems, []);
          assert.equal(r.checked.identities, 4, 'A, B, D and E (C is revoked)');
          assert.equal(r.checked.members, 4);
          assert.equal(r.checked.certificates, 3);
          assert.equal(r.checked.invites, 2, 'the answer and the done');
        }
      });

      test('membership: a flipped bit, a gap, a replayed entry, a change by a non-admin, each reported against its object', async () => {
        await found(
          replace(member(4), (b) => ((b[b.length - 3]! ^= 1), b)),
          [['damaged', member(4), ErrorCode.IntegrityCorrupt]],
        );
        // Bob joined at entry 2: with the chain broken there, his certificate has no key to be checked with.
        await found(remove(member(2)), [
          ['missing', member(2), ErrorCode.IntegrityChain],
          ['damaged', member(3), ErrorCode.IntegrityChain],
          ['damaged', member(4), ErrorCode.IntegrityChain],
          ['damaged', cert(fx.bob.personId, 1), ErrorCode.IntegrityChain],
        ]);
        await found(add(member(5), (await evil.get(member(2)))!), [['damaged', member(5), ErrorCode.IntegrityChain]]);
        const { bytes } = await encodeMembershipEntry(
          fx.space.spaceId,
          { seq: 5, prevHash: fx.space.hash, at: now, signer: fx.bob.personId, change: { kind: 'remove', personId: fx.carol.personId } },
          fx.bob.sign.seed,
        );
        await found(add(member(5), bytes), [['foreign', member(5), ErrorCode.IntegrityUnknownSigner]]);
      });

      test('membership and certificates against positions this device verified: a rollback is missing, a fork damaged; without the pin neither shows', async () => {
        const pins = new Map([
          [
            fx.space.spaceId,
            {
              members: fx.space.pin,
              certificates: new Map([[fx.person.personId, { seq: 2, hash: await sha256((await evil.get(cert(fx.person.personId, 2)))!) }]]),
            },
          ],
        ]);
        const withPins = async (expected: Expected[]) => {
          assert.deepEqual(problemsOf(await a.check({ spaces: pins })), expected);
          assert.deepEqual(problemsOf(await a.check()), []);
        };
        assert.deepEqual(problemsOf(await a.check({ spaces: pins })), []);
        let undo = await remove(member(4))();
        await withPins([['missing', member(4), ErrorCode.IntegrityRollback]]).finally(undo);
        const { bytes } = await encodeMembershipEntry(
          fx.space.spaceId,
          { seq: 4, prevHash: fx.space.hashAt(3)!, at: now, signer: fx.person.personId, change: { kind: 'role', personId: fx.carol.personId, role: 'admin' } },
          fx.person.sign.seed,
        );
        undo = await replace(member(4), () => bytes)();
        await withPins([['damaged', member(4), ErrorCode.IntegrityChain]]).finally(undo);
        undo = await remove(cert(fx.person.personId, 2))();
        await withPins([['missing', cert(fx.person.personId, 2), ErrorCode.IntegrityRollback]]).finally(undo);
      });

      test('certificates: a gap, a replayed version, one signed by another person, one of a person the space never admitted', async () => {
        const alice = fx.person.personId;
        await found(remove(cert(alice, 1)), [
          ['missing', cert(alice, 1), ErrorCode.IntegrityChain],
          ['damaged', cert(alice, 2), ErrorCode.IntegrityChain],
        ]);
        await found(add(cert(alice, 3), (await evil.get(cert(alice, 1)))!), [['damaged', cert(alice, 3), ErrorCode.IntegrityChain]]);
        const bobs = (await evil.get(cert(fx.bob.personId, 1)))!;
        // Bob's devices, certified under his id but signed by Carol (a member too): the signature fails under Bob's key.
        const { cert: listed } = await decodeDeviceCert(bobs, fx.bob, { version: 1, prevHash: new Uint8Array(32) });
        const carolSigned = new Uint8Array(bobs);
        carolSigned.set((await encodeDeviceCert({ ...listed, personId: fx.carol.personId }, fx.carol)).bytes.subarray(-64), bobs.length - 64);
        await found(
          replace(cert(fx.bob.personId, 1), () => carolSigned),
          [['damaged', cert(fx.bob.personId, 1), ErrorCode.IntegrityCorrupt]],
        );
        const stranger = person(0x50);
        const theirs = await encodeDeviceCert({ personId: stranger.personId, version: 1, prevHash: new Uint8Array(32), at: now, devices: [] }, stranger);
        await found(add(cert(stranger.personId, 1), theirs.bytes), [['foreign', cert(stranger.personId, 1), ErrorCode.IntegrityUnknownSigner]]);
      });

      test("a person's certificates that differ between two spaces are a fork, reported in the space whose id sorts later", async () => {
        const { space, root } = await foundSpace(evil, fx.person, deps(8));
        const alice = fx.person.personId;
        const genuine = (await evil.get(cert(alice, 1)))!;
        const { cert: v1 } = await decodeDeviceCert(genuine, fx.person, { version: 1, prevHash: new Uint8Array(32) });
        const forked = (await encodeDeviceCert({ ...v1, devices: [] }, fx.person)).bytes;
        const copies = [root + membershipKey(1), root + deviceCertKey(alice, 1)];
        try {
          await evil.put(copies[1]!, genuine);
          const r = await a.check();
          assert.deepEqual(r.problems, []);
          assert.equal(r.checked.certificates, 4);
          // Whichever copy is the forked one, the space whose id sorts later is the one reported.
          const expected: Expected[] =
            space.spaceId > fx.space.spaceId
              ? [['damaged', copies[1]!, ErrorCode.IntegrityChain]]
              : [
                  ['damaged', cert(alice, 1), ErrorCode.IntegrityChain],
                  ['damaged', cert(alice, 2), ErrorCode.IntegrityChain],
                ];
          await found(
            replace(copies[1]!, () => forked),
            expected,
          );
        } finally {
          for (const key of copies) await evil.delete(key);
        }
      });

      test('identities: a flipped bit, one sealed by a stranger, another person sealed, one removed, one to a device never added, one to a revoked device', async () => {
        const own = sealedIdentityKey(a.deviceId);
        await found(
          replace(own, (b) => ((b[b.length - 70]! ^= 1), b)),
          [['damaged', own, ErrorCode.IntegrityCorrupt]],
        );
        const other = sealedIdentityKey(otherId);
        const reg = await remoteRegistry(evil, a.vaultId);
        const boxOf = (id: string) => reg.recipients().find(([d]) => d === id)![1];
        const stranger = generateDeviceKeys(seededRandom(95));
        const sealed = (signerId: string, signerSeed: Uint8Array, who = fx.person, to = otherId, boxPub = boxOf(otherId)) =>
          sealIdentity({ vaultId: a.vaultId, person: who, recipientId: to, recipientBoxPub: boxPub, signerId, signerSeed, random: seededRandom(94) });
        await found(
          replace(other, () => sealed(stranger.deviceId, stranger.sign.seed)),
          [['foreign', other, ErrorCode.IntegrityUnknownSigner]],
        );
        await found(
          replace(other, () => sealed(e.deviceId, signSeed, fx.bob)),
          [['damaged', other, ErrorCode.IntegrityCorrupt]],
        );
        await found(remove(other), [['missing', other, ErrorCode.NotFound]]);
        const nobody = sealedIdentityKey(stranger.deviceId);
        await found(add(nobody, await sealed(e.deviceId, signSeed, fx.person, stranger.deviceId, stranger.box.pub)), [
          ['foreign', nobody, ErrorCode.UnknownDevice],
        ]);
        const gone = sealedIdentityKey(revokedId);
        await found(add(gone, await sealed(e.deviceId, signSeed, fx.person, revokedId, new Uint8Array(32).fill(9))), [
          ['unreferenced', gone, ErrorCode.UnreferencedObject],
        ]);
      });

      test('invites dated by their expires: a pending one is counted, one expired past the grace unreferenced with its messages, an expires of the wrong size damaged', async () => {
        const expires = fx.invite.done.replace(/done$/, 'expires');
        const at = (ms: number) => {
          const b = new Uint8Array(8);
          new DataView(b.buffer).setBigUint64(0, BigInt(ms));
          return b;
        };
        const undo = await add(expires, at(Date.now() + 3_600_000))();
        try {
          const r = await a.check();
          assert.deepEqual(r.problems, []);
          assert.equal(r.checked.invites, 3, 'the answer, the done and the expires');
        } finally {
          await undo();
        }
        const stale: Expected[] = [expires, fx.invite.answer, fx.invite.done].map((k) => ['unreferenced', k, ErrorCode.UnreferencedObject]);
        await found(add(expires, at(1)), stale);
        await found(add(expires, new Uint8Array(5)), [['damaged', expires, ErrorCode.IntegrityCorrupt]]);
        // A finished invite its admin's device deleted leaves nothing to report.
        const undoAnswer = await remove(fx.invite.answer)();
        const undoDone = await remove(fx.invite.done)();
        try {
          const r = await a.check();
          assert.deepEqual(r.problems, []);
          assert.equal(r.checked.invites, undefined);
        } finally {
          await undoAnswer();
          await undoDone();
        }
      });

      test('invites: an offer left beside its done is unreferenced, a message of an impossible size damaged, a stray name foreign', async () => {
        await found(add(fx.invite.offer, new Uint8Array(200).fill(1)), [['unreferenced', fx.invite.offer, ErrorCode.UnreferencedObject]]);
        await found(
          replace(fx.invite.done, () => new Uint8Array(5)),
          [['damaged', fx.invite.done, ErrorCode.IntegrityCorrupt]],
        );
        const stray = fx.invite.done.replace(/done$/, 'later');
        await found(add(stray, new Uint8Array(200)), [['foreign', stray, ErrorCode.ForeignObject]]);
      });

      test('property: one flipped bit in any identity, membership entry or certificate is reported against that object', async () => {
        await flippedBitsFound(
          fx.keys.filter((k) => !k.startsWith('invites/')),
          {},
          13,
        );
        assert.deepEqual((await a.check()).problems, []);
      });

      describe('key epochs: a second space with epochs 0 and 1 (after a removal) and their sealed keys', () => {
        let ex: EpochSpaceFixture;
        const epochAt = (epoch: number) => ex.root + spaceEpochKey(epoch);
        const [d61, d62, d63, d64] = [0x61, 0x62, 0x63, 0x64].map(testDevice) as [TestDevice, TestDevice, TestDevice, TestDevice];
        /** The sealed keys of `epoch` (by device, in key order), each damaged because the chain broke before it. */
        const unverifiable = (epoch: number, devices: readonly TestDevice[]): Expected[] =>
          devices.map((d) => ['damaged', ex.sealedAt(epoch, d), ErrorCode.IntegrityChain]);
        /** The next epoch as `who` would write it through their first device: the members at the chain's end, nobody cut. */
        const nextEpochBy = async (who: TestPerson) => {
          const { m, epochs, certs } = ex.state;
          const entry: SpaceEpochEntry = {
            epoch: epochs.count,
            prevHash: epochs.pin.hash,
            membershipSeq: m.seq,
            membershipHash: m.hash,
            at: now,
            signer: who.keys.personId,
            sealer: who.devices[0]!.deviceId,
            keyCheck: new Uint8Array(32).fill(7),
            members: epochs.plan(m, certs),
            cuts: [],
          };
          return (await encodeSpaceEpoch(ex.state.spaceId, entry, who.keys.sign.seed)).bytes;
        };
        before(async () => {
          ex = await writeEpochSpaceFixture(evil, deps(9));
        });
        after(async () => {
          for (const key of ex?.keys ?? []) await evil.delete(key);
        });

        test('a clean space with epochs is ok: both entries and every sealed key verified, from any device of the vault', async () => {
          assert.equal(ex.state.epochs.count, 2);
          for (const v of [a, e]) {
            const r = await v.check();
            assert.deepEqual(r.problems, []);
            assert.equal(r.checked.epochs, 2);
            assert.equal(r.checked.spaceKeys, 7, "epoch 0 to all four devices (bob's and carol's shared later), epoch 1 to three");
          }
        });

        test('epochs: a flipped bit, a gap, a replayed entry, one started by a member who may not, each against its object; what follows a break cannot be verified', async () => {
          await found(
            replace(epochAt(1), (b) => ((b[b.length - 3]! ^= 1), b)),
            [['damaged', epochAt(1), ErrorCode.IntegrityCorrupt], ...unverifiable(1, [d61, d62, d64])],
          );
          await found(remove(epochAt(0)), [
            ['missing', epochAt(0), ErrorCode.IntegrityChain],
            ['damaged', epochAt(1), ErrorCode.IntegrityChain],
            ...unverifiable(0, [d61, d62, d63, d64]),
            ...unverifiable(1, [d61, d62, d64]),
          ]);
          await found(add(epochAt(2), (await evil.get(epochAt(0)))!), [['damaged', epochAt(2), ErrorCode.IntegrityChain]]);
          // Carol is a writer whose devices did not change: she may not start an epoch.
          await found(add(epochAt(2), await nextEpochBy(ex.carol)), [['foreign', epochAt(2), ErrorCode.IntegrityUnknownSigner]]);
        });

        test('epochs against the position this device verified: a rollback is missing, a fork damaged; without the pin neither shows', async () => {
          const pins = new Map([[ex.state.spaceId, { epochs: { seq: ex.state.epochs.pin.count, hash: ex.state.epochs.pin.hash } }]]);
          const withPins = async (expected: Expected[], unpinned: Expected[] = []) => {
            assert.deepEqual(problemsOf(await a.check({ spaces: pins })), expected);
            assert.deepEqual(problemsOf(await a.check()), unpinned);
          };
          assert.deepEqual(problemsOf(await a.check({ spaces: pins })), []);
          let undo = await remove(epochAt(1))();
          // Without the pin, epoch 1's keys are left over from a start that never finished.
          const leftovers: Expected[] = [d61, d62, d64].map((d) => ['unreferenced', ex.sealedAt(1, d), ErrorCode.UnreferencedObject]);
          await withPins([['missing', epochAt(1), ErrorCode.IntegrityRollback], ...unverifiable(1, [d61, d62, d64])], leftovers).finally(undo);
          const entry = ex.state.epochs.entry(1)!;
          const forked = (await encodeSpaceEpoch(ex.state.spaceId, { ...entry, at: entry.at + 1 }, ex.founder.keys.sign.seed)).bytes;
          undo = await replace(epochAt(1), () => forked)();
          await withPins([['damaged', epochAt(1), ErrorCode.IntegrityChain]]).finally(undo);
        });

        test('blobs in the space, checked without its key: a clean chunk counts; one moved under another id, under an epoch the space lacks, truncated, or of the wrong type is damaged', async () => {
          const { m, epochs, certs, spaceId } = ex.state;
          const epochKey = (await openSpaceEpochKey(underPrefix(evil, ex.root), {
            m,
            epochs,
            certs,
            epoch: 1,
            deviceId: d61.deviceId,
            boxSecret: d61.box.secret,
          }))!;
          const plaintext = new TextEncoder().encode('a chunk of a space’s blob');
          const id = await blobId(epochKey, spaceId, plaintext);
          const bytes = await encodeBlobObject('chunk', { vaultId: spaceId, epoch: 1, epochKey, id, plaintext, random: seededRandom(95) });
          const chunkAt = (x: string) => ex.root + blobKeys.chunk(x);
          const undo = await add(chunkAt(id), bytes)();
          try {
            const r = await a.check();
            assert.deepEqual(r.problems, []);
            assert.equal(r.checked.spaceBlobs, 1);
            const moved = chunkAt('ab'.repeat(32));
            await found(add(moved, bytes), [['damaged', moved, ErrorCode.IntegrityCorrupt]]);
            const asManifest = ex.root + blobKeys.manifest(id);
            await found(add(asManifest, bytes), [['damaged', asManifest, ErrorCode.IntegrityCorrupt]]);
            await found(
              replace(chunkAt(id), (b) => (new DataView(b.buffer, b.byteOffset).setUint32(8, 7), b)),
              [['damaged', chunkAt(id), ErrorCode.IntegrityCorrupt]],
            );
            await found(
              replace(chunkAt(id), (b) => b.slice(0, 60)),
              [['damaged', chunkAt(id), ErrorCode.IntegrityCorrupt]],
            );
          } finally {
            await undo();
          }
        });

        test('sealed keys: a flipped bit, one removed, one sealed to a cut device, one by a stranger, leftovers under another keyId or for an epoch never started', async () => {
          const carols = ex.sealedAt(1, d64);
          await found(
            replace(carols, (b) => ((b[b.length - 3]! ^= 1), b)),
            [['damaged', carols, ErrorCode.IntegrityCorrupt]],
          );
          await found(remove(carols), [['missing', carols, ErrorCode.IntegrityWithheld]]);
          // Bob was removed and cut by epoch 1: its key sealed to his device hands him what he must not read.
          const bobs = ex.sealedAt(1, d63);
          await found(add(bobs, (await evil.get(carols))!), [['foreign', bobs, ErrorCode.IntegrityCorrupt]]);
          const stranger = generateDeviceKeys(seededRandom(93));
          const sealed = await sealEpochKey({
            vaultId: ex.state.spaceId,
            epoch: 1,
            recipientId: d64.deviceId,
            recipientBoxPub: d64.box.pub,
            epochKey: new Uint8Array(32).fill(5),
            signerId: stranger.deviceId,
            signerSeed: stranger.sign.seed,
            random: seededRandom(92),
          });
          await found(
            replace(carols, () => sealed),
            [['foreign', carols, ErrorCode.IntegrityUnknownSigner]],
          );
          const otherKeyId = ex.root + remoteKeys.sealedKey(1, d64.deviceId, 'ab'.repeat(8));
          await found(add(otherKeyId, sealed), [['unreferenced', otherKeyId, ErrorCode.UnreferencedObject]]);
          const unstarted = ex.root + remoteKeys.sealedKey(2, d64.deviceId, 'ab'.repeat(8));
          await found(add(unstarted, sealed), [['unreferenced', unstarted, ErrorCode.UnreferencedObject]]);
        });

        test('property: one flipped bit in any epoch entry or sealed key of the space is reported against that object', async () => {
          await flippedBitsFound(ex.keys, {}, 14);
          assert.deepEqual((await a.check()).problems, []);
        });
      });
    });
  });
}
