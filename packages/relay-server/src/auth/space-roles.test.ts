import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ErrorCode, KithError } from '@kith/core/adapter';
import { appendMembership, pushSpaceSegment, SPACE_CHAIN_START, spaceSegmentKey, SpaceState, type Role, type SpaceChainPos } from '@kith/core/spaces';
import { startTestRelay, type TestRelay } from '../testing/test-vaults.js';
import { call, deps, objectUrl, relaySpace, signInRefusal, tokenFor, type TestPerson } from '../space-world.test.support.js';

let t: TestRelay;
before(async () => {
  t = await startTestRelay();
});
after(async () => {
  await t?.stop();
});

type Change = Role | 'remove' | 'add';
const who = fc.constantFrom<'bob' | 'carol'>('bob', 'carol');
const change = fc.constantFrom<Change>('writer', 'reader', 'admin', 'remove', 'add');

test(
  'relay spaces: under any sequence of role changes, removals and re-adds, the relay admits and refuses each person’s device exactly as the membership chain says',
  { timeout: 600_000 },
  async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(who, change), { minLength: 1, maxLength: 6 }), async (steps) => {
        const s = await relaySpace(t.relay.url);
        const a = s.remote(s.alice);
        const chains = new Map<TestPerson, SpaceChainPos>([
          [s.bob, SPACE_CHAIN_START],
          [s.carol, SPACE_CHAIN_START],
        ]);
        try {
          for (const [name, c] of steps) {
            const p = s[name];
            const m = (await s.state(a)).m;
            const intent =
              c === 'remove'
                ? { kind: 'remove' as const, personId: p.keys.personId }
                : c === 'add'
                  ? { kind: 'add' as const, person: p.keys, role: 'writer' as const }
                  : { kind: 'role' as const, personId: p.keys.personId, role: c };
            await appendMembership(a, m, s.alice.keys, intent, deps);
            // What the chain says now, and what the relay does for each person's device.
            for (const q of [s.bob, s.carol]) {
              const state = await s.state(a);
              const role = state.m.member(q.keys.personId)?.role;
              if (role === undefined) {
                assert.equal(await signInRefusal(s.url, s.key(q)), ErrorCode.Removed);
                continue;
              }
              const token = await tokenFor(s.url, s.key(q));
              if (role === 'reader') {
                const r = await call('PUT', objectUrl(s.url, spaceSegmentKey(q.device.deviceId, chains.get(q)!.seq + 1)), { token, body: new Uint8Array(64) });
                assert.deepEqual([r.status, r.code], [403, ErrorCode.Forbidden]);
                continue;
              }
              const r = s.remote(q);
              const me = { person: q.keys, deviceId: q.device.deviceId, signSeed: q.device.sign.seed, boxSecret: q.device.box.secret };
              try {
                chains.set(q, await pushSpaceSegment(r, { state: new SpaceState(s.spaceId), me, ops: [], chain: chains.get(q)! }, deps));
              } catch (e) {
                assert.fail(`a ${role}'s segment was refused: ${KithError.is(e) ? e.code : String(e)}`);
              } finally {
                await r.close();
              }
            }
          }
        } finally {
          await a.close();
        }
      }),
      { numRuns: 12 },
    );
  },
);
