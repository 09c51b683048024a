/**
 * A writer demoted to reader through the Vault (issue #16, FORMAT.md
 * "Membership entry", person cut): a segment past the cut (a write that
 * raced the demotion, or a modified client's back-dated one) is refused by
 * every other member's sync with one KITH_SPACE_REFUSED warning while
 * everyone else's changes apply; the writer's own sync says its segment is
 * refused; promoted again, its device takes that segment back and writes on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WarningCode, type SyncWarning } from '../../base/warnings.js';
import { spaceSegmentKey } from '../../spaces/space-segments.js';
import { invite, newPerson, World } from './people.test.support.js';

const refusals = (warnings: readonly SyncWarning[] | undefined) => (warnings ?? []).filter((w) => w.code === WarningCode.SpaceRefused);

test('a write racing its writer’s demotion: every other member’s sync warns KITH_SPACE_REFUSED (person-cut) and applies the rest; the writer’s own sync says so; promoted again, it writes on', async () => {
  const world = new World();
  const a = await newPerson(world, 'ana', 61);
  const b = await newPerson(world, 'ben', 62);
  const c = await newPerson(world, 'cat', 63);
  try {
    const family = await a.vault.spaces.create('Family');
    await invite(a.vault, 'Family', b.vault, 'writer', 'Ben');
    await invite(a.vault, 'Family', c.vault, 'reader', 'Cat');
    for (const v of [a.vault, b.vault, c.vault, a.vault]) await v.sync();
    await b.vault.space('Family').put('notes', 'b1', { text: 'before' });
    await b.vault.sync();
    await b.vault.space('Family').put('notes', 'b2', { text: 'raced' });
    await b.vault.sync();
    const benId = (await a.vault.spaces.members('Family')).find((m) => m.name === 'Ben')!.personId;
    const deviceId = (await b.vault.devices.list())[0]!.deviceId;
    // The race: ana lists ben's segments before his second one lands, and writes the demotion after it did.
    const objects = world.objects(`memory://ana/spaces/${family.spaceId}`);
    const second = `${spaceSegmentKey(deviceId, 2)}`;
    const raced = objects.get(second)!;
    objects.delete(second);
    await a.vault.spaces.setRole('Family', benId, 'reader');
    objects.set(second, raced);

    await a.vault.space('Family').put('notes', 'a1', { text: 'ana, after' });
    const first = await a.vault.sync();
    const [w] = refusals(first.warnings);
    assert.equal(refusals(first.warnings).length, 1, JSON.stringify(first.warnings));
    assert.deepEqual(
      { space: w!.space, device: w!.device, person: w!.person, seq: w!.seq, error: w!.error, reason: w!.reason },
      { space: family.spaceId, device: deviceId, person: benId, seq: 2, error: 'KITH_INTEGRITY_UNKNOWN_SIGNER', reason: 'person-cut' },
    );
    const cat = await c.vault.sync();
    assert.deepEqual(
      refusals(cat.warnings).map((x) => [x.device, x.seq, x.reason]),
      [[deviceId, 2, 'person-cut']],
    );
    for (const v of [a.vault, c.vault]) {
      assert.deepEqual(await v.space('Family').get('notes', 'b1'), { id: 'b1', text: 'before' }, 'what ben wrote before the cut applies');
      assert.equal(await v.space('Family').get('notes', 'b2'), undefined, 'nothing past the cut does');
    }
    assert.deepEqual(await c.vault.space('Family').get('notes', 'a1'), { id: 'a1', text: 'ana, after' });

    // Ben's own device is told that the others refuse its segment; the change stays on it.
    const own = refusals((await b.vault.sync()).warnings);
    assert.deepEqual(
      own.map((x) => [x.device, x.seq, x.reason]),
      [[deviceId, 2, 'person-cut']],
    );
    assert.match(own[0]!.message, /stay on this device only/);
    assert.deepEqual(await b.vault.space('Family').get('notes', 'b2'), { id: 'b2', text: 'raced' });

    // Promoted again: ben's device takes the refused segment back, and its new writes reach everyone.
    await a.vault.spaces.setRole('Family', benId, 'writer');
    await b.vault.sync();
    await b.vault.space('Family').put('notes', 'b3', { text: 'promoted again' });
    await b.vault.sync();
    const later = await a.vault.sync();
    assert.deepEqual(refusals(later.warnings), []);
    assert.deepEqual(await a.vault.space('Family').get('notes', 'b3'), { id: 'b3', text: 'promoted again' });
  } finally {
    for (const v of [a.vault, b.vault, c.vault]) await v.close();
  }
});
