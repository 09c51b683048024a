/**
 * A vault that uses spaces, backed up and restored from the backup through
 * relays, as `kith` processes: A's vault and A's own space live on one
 * relay, the space B shares with A on another. A's relay is lost; A
 * restores the backup onto a new relay with the recovery code, keeps the
 * same person, reads B's space again, is told A's own space is gone, and
 * pairs a second device to the restored one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kithJsonAsync as kithJson, serveRelay, type ServedRelay } from 'kith/testing';
import { invite, pairDevice } from './spaces-cli.test.support.js';

type Doc = { id: string; [k: string]: unknown };
type Listed = { spaceId: string; name: string; role: string; synced: boolean };

test(
  'a vault with spaces, backed up, its relay lost, restored from the backup onto a new relay: same person, the shared space read again, its own space listed as lost, a second device pairs',
  { timeout: 600_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kith-spaces-backup-relay-'));
    const relays: ServedRelay[] = [];
    const relay = async (name: string): Promise<ServedRelay> => {
      const r = await serveRelay(join(dir, `${name}-home`), ['--data', join(dir, `${name}-data`)]);
      relays.push(r);
      return r;
    };
    try {
      const home = (h: string): string => join(dir, h);
      const [a1, b1, restored, phone] = ['a1', 'b1', 'a-restored', 'a-phone'].map(home) as [string, string, string, string];
      const aRelay = await relay('relay-a');
      const bRelay = await relay('relay-b');
      const { recoveryCode } = await kithJson<{ recoveryCode: string }>(a1, ['init', '--remote', `${aRelay.url}/person-a`, '--name', 'a-laptop']);
      await kithJson(b1, ['init', '--remote', `${bRelay.url}/person-b`, '--name', 'b-laptop']);
      // B's space lives on B's relay; A's own space next to A's vault.
      const family = await kithJson<{ spaceId: string }>(b1, ['space', 'create', 'family']);
      const mine = await kithJson<{ spaceId: string }>(a1, ['space', 'create', 'mine']);
      const a = await invite(b1, a1, 'family', 'writer', 'Ann');
      await kithJson(a1, ['put', '--space', 'family', 'recipes', 'r1', '{"title":"soup","by":"a"}', '--sync']);
      await kithJson(a1, ['put', '--space', 'mine', 'notes', 'n1', '{"text":"lost with relay a"}', '--sync']);
      await kithJson(a1, ['put', 'diary', 'd1', '{"text":"personal"}', '--sync']);
      await kithJson(b1, ['put', '--space', 'family', 'recipes', 'r2', '{"title":"bread","by":"b"}', '--sync']);

      const file = join(dir, 'a.kbk');
      await kithJson(a1, ['backup', file]);
      // A's relay is gone, with A's vault and A's own space.
      await aRelay.stop();
      relays.splice(relays.indexOf(aRelay), 1);
      const newRelay = await relay('relay-new');
      const remote = `${newRelay.url}/person-a`;
      const r = await kithJson<{ records: number; lostSpaces: { spaceId: string; name: string; url: string }[] }>(restored, [
        'restore',
        '--from-backup',
        file,
        '--remote',
        remote,
        '--recovery-code',
        recoveryCode,
        '--name',
        'a-restored',
      ]);
      assert.deepEqual(
        r.lostSpaces.map((s) => [s.spaceId, s.name]),
        [[mine.spaceId, 'mine']],
      );
      assert.deepEqual(await kithJson(restored, ['get', 'diary', 'd1']), { id: 'd1', text: 'personal' });
      await kithJson(restored, ['sync']);
      const listed = await kithJson<Listed[]>(restored, ['space', 'ls']);
      assert.deepEqual(
        listed.filter((s) => s.synced).map((s) => [s.spaceId, s.name, s.role]),
        [[family.spaceId, 'family', 'writer']],
      );
      const docs = await kithJson<Doc[]>(restored, ['ls', '--space', 'family', 'recipes']);
      assert.deepEqual(
        docs.map((d) => d.id),
        ['r1', 'r2'],
      );
      // The same person: B sees the restored device's write as Ann's, and still two members.
      await kithJson(restored, ['put', '--space', 'family', 'recipes', 'r3', '{"title":"jam","by":"a-restored"}', '--sync']);
      await kithJson(b1, ['sync']);
      assert.equal((await kithJson<Doc>(b1, ['get', '--space', 'family', 'recipes', 'r3']))['by'], 'a-restored');
      const members = await kithJson<{ personId: string; name: string; role: string }[]>(b1, ['space', 'members', 'family']);
      assert.deepEqual(members.map((m) => m.personId).sort(), [a.personId, members.find((m) => m.role === 'admin')!.personId].sort());

      // A second device pairs to the restored one and reads the shared space.
      await pairDevice(restored, phone, remote, 'a-phone');
      await kithJson(restored, ['sync']); // certifies the phone in the space
      await kithJson(phone, ['sync']);
      assert.deepEqual(
        (await kithJson<Listed[]>(phone, ['space', 'ls'])).filter((s) => s.synced).map((s) => s.spaceId),
        [family.spaceId],
      );
      assert.equal((await kithJson<Doc>(phone, ['get', '--space', 'family', 'recipes', 'r2']))['title'], 'bread');
      await kithJson(phone, ['put', '--space', 'family', 'recipes', 'r4', '{"by":"a-phone"}', '--sync']);
      await kithJson(b1, ['sync']);
      assert.equal((await kithJson<Doc>(b1, ['get', '--space', 'family', 'recipes', 'r4']))['by'], 'a-phone');
    } finally {
      for (const r of relays) await r.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
