/**
 * A writer demoted to reader on a folder remote (issue #16, FORMAT.md
 * "Membership entry", person cut), through real `kith` processes: the
 * demoted person's modified client stores a segment it signed while still
 * a writer (naming the membership entry before the demotion) after the
 * demotion; every other member's `kith sync` says KITH_SPACE_REFUSED
 * (reason person-cut) and applies everyone else's records, and `kith
 * check` reports the segment as foreign.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openRemote } from '@kith/node';
import { joinInvite, pushSpaceSegment, SpaceState, SPACE_CHAIN_START, spaceSegmentKey } from '@kith/core/spaces';
import { anasFamily, deps, outsider } from './spaces-outsider.test.support.js';
import { kith, kithJsonAsync as kithJson } from './testing/index.js';

type Warning = { code: string; device?: string; person?: string; seq?: number; error?: string; reason?: string };

let stamp = 0;
const op = (id: string, text: string) => ({
  c: 'notes',
  i: id,
  t: `${(Date.now() + ++stamp).toString(36).padStart(9, '0')}0000`,
  k: 'p' as const,
  s: { text },
  a: true,
});

test(
  'a demoted writer’s back-dated segment on a folder remote: kith sync says KITH_SPACE_REFUSED (person-cut) and applies the rest; kith check reports it foreign',
  { timeout: 600_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kith-cli-spaces-demote-'));
    try {
      const { a, b, spaceId, invite } = await anasFamily(dir);
      await invite('reader', (code) => kithJson(b, ['space', 'join', code, '--name', 'Ben']));
      // Cat joins as a writer with a client of her own, which keeps her keys at hand.
      const cat = outsider();
      let url = '';
      await invite('writer', async (code) => {
        const at = code.indexOf('@');
        url = code.slice(at + 1);
        const r = await openRemote(url);
        try {
          await joinInvite(r, code.slice(0, at), cat, [cat], 'Cat', { pollMs: 50, timeoutMs: 300_000 }, deps);
        } finally {
          await r.close();
        }
      });
      for (const h of [b, a]) await kithJson(h, ['sync']); // Ana's device seals the key to Ben's and Cat's
      const remote = await openRemote(url);
      try {
        const one = await pushSpaceSegment(remote, { state: new SpaceState(spaceId), me: cat, ops: [op('c1', 'before')], chain: SPACE_CHAIN_START }, deps);
        // While still a writer, her client signs its next segment aside (a copy of the space), to store it later.
        const folder = url.startsWith('file:') ? fileURLToPath(url) : url;
        const aside = join(dir, 'aside');
        cpSync(folder, aside, { recursive: true });
        const copy = await openRemote(aside);
        let segment: Uint8Array;
        let head: Uint8Array;
        try {
          await pushSpaceSegment(copy, { state: new SpaceState(spaceId), me: cat, ops: [op('c2', 'back-dated')], chain: one }, deps);
          segment = (await copy.get(spaceSegmentKey(cat.deviceId, 2)))!;
          head = (await copy.get(`heads/${cat.deviceId}`))!;
        } finally {
          await copy.close();
        }
        assert.deepEqual(await kithJson(a, ['space', 'role', 'family', cat.person.personId, 'reader']), { ok: true });
        await remote.put(spaceSegmentKey(cat.deviceId, 2), segment);
        await remote.put(`heads/${cat.deviceId}`, head);
      } finally {
        await remote.close();
      }

      await kithJson(a, ['put', '--space', 'family', 'notes', 'a1', '{"by":"ana"}']);
      for (const h of [a, b]) {
        const synced = await kithJson<{ warnings: Warning[] }>(h, ['sync']);
        const refused = synced.warnings.filter((w) => w.code === 'KITH_SPACE_REFUSED');
        assert.deepEqual(
          refused.map(({ device, person, seq, error, reason }) => ({ device, person, seq, error, reason })),
          [{ device: cat.deviceId, person: cat.person.personId, seq: 2, error: 'KITH_INTEGRITY_UNKNOWN_SIGNER', reason: 'person-cut' }],
          JSON.stringify(synced.warnings),
        );
        assert.deepEqual(await kithJson(h, ['get', '--space', 'family', 'notes', 'c1']), { id: 'c1', text: 'before' });
        assert.equal((await kith(h, ['get', '--space', 'family', 'notes', 'c2'])).code, 1, 'nothing of the back-dated segment');
      }
      assert.deepEqual(await kithJson(b, ['get', '--space', 'family', 'notes', 'a1']), { id: 'a1', by: 'ana' });

      const check = await kith(a, ['check', '--json']);
      assert.equal(check.code, 1, check.stderr);
      const report = JSON.parse(check.stdout) as { problems: { kind: string; key: string; code: string }[] };
      assert.deepEqual(
        report.problems.map((p) => [p.kind, p.key, p.code]),
        [['foreign', `spaces/${spaceId}/${spaceSegmentKey(cat.deviceId, 2)}`, 'KITH_INTEGRITY_UNKNOWN_SIGNER']],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
