import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openRemote } from '@kith/node';
import { joinInvite, openSpaceEpochKey, pushSpaceSegment, SpaceState, SPACE_CHAIN_START } from '@kith/core/spaces';
import { anasFamily, deps, outsider } from './spaces-outsider.test.support.js';
import { kith, kithJsonAsync as kithJson } from './testing/index.js';

type Warning = { code: string; message: string; space?: string; device?: string; person?: string; seq?: number; error?: string; reason?: string };

test(
  'a reader’s forged segment on a folder remote: kith sync says KITH_SPACE_REFUSED once (JSON and text) and applies the writer’s records',
  { timeout: 600_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kith-cli-spaces-refused-'));
    try {
      const { a, b, spaceId, invite } = await anasFamily(dir);
      await invite('writer', (code) => kithJson(b, ['space', 'join', code, '--name', 'Ben']));

      // Cat joins as a reader with a client of her own, which keeps her keys at hand.
      const cat = outsider();
      let remote: Awaited<ReturnType<typeof openRemote>> | undefined;
      await invite('reader', async (code) => {
        const at = code.indexOf('@');
        remote = await openRemote(code.slice(at + 1));
        await joinInvite(remote, code.slice(0, at), cat, [cat], 'Cat', { pollMs: 50, timeoutMs: 300_000 }, deps);
      });
      try {
        for (const h of [b, a]) await kithJson(h, ['sync']); // Ben's certificate; Ana's device seals the key to Ben's and Cat's
        const state = await new SpaceState(spaceId).refresh(remote!);
        const epoch = state.epochs.current!.epoch;
        const epochKey = await openSpaceEpochKey(remote!, {
          m: state.m,
          epochs: state.epochs,
          certs: state.certs,
          epoch,
          deviceId: cat.deviceId,
          boxSecret: cat.boxSecret,
        });
        assert.ok(epochKey, 'the reader holds the key');
        // Her client skips the local role check (it takes her for a writer); everything else is real: her certified device signs, the key encrypts.
        const member = state.m.member.bind(state.m);
        state.m.member = (p) => {
          const m = member(p);
          return m && p === cat.person.personId ? { ...m, role: 'writer' } : m;
        };
        const op = { c: 'notes', i: 'forged', t: `${Date.now().toString(36).padStart(9, '0')}0000`, k: 'p' as const, s: { text: 'by cat' }, a: true };
        await pushSpaceSegment(remote!, { state, me: cat, ops: [op], chain: SPACE_CHAIN_START }, deps);
      } finally {
        await remote?.close();
      }

      await kithJson(b, ['put', '--space', 'family', 'notes', 'b1', '{"by":"ben"}', '--sync']);
      // Ana, in text: one warning line on stderr, and Ben's record applied.
      const text = await kith(a, ['sync']);
      assert.equal(text.code, 0, text.stderr);
      const lines = text.stderr.split('\n').filter((l) => l.includes('KITH_SPACE_REFUSED'));
      assert.equal(lines.length, 1, text.stderr);
      assert.match(lines[0]!, /^kith: warning: space "family": refused segment 1 of device [0-9a-f]{16} \(person [0-9a-f]{32}\): .*\(KITH_SPACE_REFUSED\)$/);
      assert.ok(lines[0]!.includes(cat.deviceId) && lines[0]!.includes(cat.person.personId), lines[0]);
      assert.deepEqual(await kithJson(a, ['get', '--space', 'family', 'notes', 'b1']), { id: 'b1', by: 'ben' });
      assert.equal((await kith(a, ['get', '--space', 'family', 'notes', 'forged'])).code, 1, 'nothing of the forged segment');

      // Ben, in JSON: the warning with its fields, once.
      const first = await kithJson<{ warnings: Warning[] }>(b, ['sync']);
      const refused = first.warnings.filter((w) => w.code === 'KITH_SPACE_REFUSED');
      assert.equal(refused.length, 1, JSON.stringify(first.warnings));
      const { space, device, person, seq, error, reason } = refused[0]!;
      assert.deepEqual(
        { space, device, person, seq, error, reason },
        { space: spaceId, device: cat.deviceId, person: cat.person.personId, seq: 1, error: 'KITH_INTEGRITY_UNKNOWN_SIGNER', reason: 'not-a-writer' },
      );
      const again = await kithJson<{ warnings: Warning[] }>(b, ['sync']);
      assert.deepEqual(
        again.warnings.filter((w) => w.code === 'KITH_SPACE_REFUSED'),
        [],
      );
      assert.ok(!(await kith(a, ['sync'])).stderr.includes('KITH_SPACE_REFUSED'), 'said once');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
