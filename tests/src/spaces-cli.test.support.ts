/**
 * Issue #16's three people, as `kith` processes (one home per device):
 * A (laptop, phone), B (laptop, phone), C (laptop). Each person has a
 * vault of their own on `remoteOf(person)`; A's space lives next to A's
 * vault, and B and C reach it through the address in the invite code.
 * Run through a folder remote and through a relay.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kith, kithJsonAsync as kithJson, startKith, type KithRun } from 'kith/testing';

type Role = 'admin' | 'writer' | 'reader';
type Doc = { id: string; [k: string]: unknown };

/** Where each person's vault lives, and where their devices' homes go. */
export interface SpacesCliWorld {
  readonly dir: string;
  remoteOf(person: 'a' | 'b' | 'c'): string;
}

/** An error run: exit 1 and one stderr line ending in one of `codes`. */
export function assertFails(r: KithRun, ...codes: string[]): string {
  assert.equal(r.code, 1, `exit ${r.code}; stdout: ${r.stdout}; stderr: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one stderr line, got: ${r.stderr}`);
  const code = /\((KITH_[A-Z_]+)\)$/.exec(lines[0]!)?.[1];
  assert.ok(code !== undefined && codes.includes(code), `expected ${codes.join(' or ')}, got: ${lines[0]}`);
  return code;
}

/** `kith pair --yes` on `from` while `to` joins: a second device of the same person. */
export async function pairDevice(from: string, to: string, remote: string, name: string): Promise<void> {
  const pair = startKith(from, ['pair', '--yes', '--json', '--timeout', '120']);
  const { code } = JSON.parse(await pair.firstLine) as { code: string };
  await kithJson(to, ['join', code, '--remote', remote, '--name', name]);
  assert.equal((await pair.done).code, 0);
}

/** `kith space invite` on the admin's device while the invitee's device joins; both must show the same SAS. */
export async function invite(
  admin: string,
  invitee: string,
  space: string,
  role: Role,
  name: string,
): Promise<{ personId: string; joined: { spaceId: string; name: string; role: Role; sas: string } }> {
  const inviting = startKith(admin, ['space', 'invite', space, '--role', role, '--yes', '--json', '--timeout', '120']);
  const { code } = JSON.parse(await inviting.firstLine) as { code: string };
  assert.match(code, /@/, 'the code carries the address of the space');
  const joined = await kithJson<{ spaceId: string; name: string; role: Role; sas: string }>(invitee, ['space', 'join', code, '--name', name]);
  const done = await inviting.done;
  assert.equal(done.code, 0, done.stderr);
  const lines = done.stdout.trim().split('\n');
  const admitted = JSON.parse(lines.at(-1)!) as { personId: string; name: string; role: Role; sas: string };
  assert.deepEqual({ name: admitted.name, role: admitted.role }, { name, role });
  assert.equal(admitted.sas, joined.sas, 'both sides showed the same SAS');
  assert.equal(joined.role, role);
  return { personId: admitted.personId, joined };
}

/** Every file under `dir`, as bytes: what a device kept on disk. */
function bytesUnder(dir: string): Buffer {
  const parts: Buffer[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else parts.push(readFileSync(p));
    }
  };
  walk(dir);
  return Buffer.concat(parts);
}

/** The scenario of issue #16 ("Tests", first point) through `world`'s remotes. */
export function threePeopleScenario(label: string, setup: () => Promise<SpacesCliWorld & { cleanup(): Promise<void> }>): void {
  test(`${label}: three people share a space through the CLI: roles, a second device, removal, personal data kept apart`, { timeout: 600_000 }, async () => {
    const world = await setup();
    try {
      const home = (h: string): string => join(world.dir, h);
      const [a1, a2, b1, b2, c1] = ['a1', 'a2', 'b1', 'b2', 'c1'].map(home) as [string, string, string, string, string];
      await kithJson(a1, ['init', '--remote', world.remoteOf('a'), '--name', 'a-laptop']);
      await pairDevice(a1, a2, world.remoteOf('a'), 'a-phone');
      await kithJson(b1, ['init', '--remote', world.remoteOf('b'), '--name', 'b-laptop']);
      await kithJson(c1, ['init', '--remote', world.remoteOf('c'), '--name', 'c-laptop']);
      // A personal record of A's, with a marker to look for on B's and C's disks.
      const marker = 'personal-marker-7f3a9c';
      await kithJson(a1, ['put', 'diary', 'd1', JSON.stringify({ text: marker }), '--sync']);

      const created = await kithJson<{ spaceId: string; name: string }>(a1, ['space', 'create', 'family']);
      assert.equal(created.name, 'family');
      assert.match(created.spaceId, /^[0-9a-f]+$/);
      const bob = await invite(a1, b1, 'family', 'writer', 'Bob');
      assert.equal(bob.joined.spaceId, created.spaceId);
      assert.equal(bob.joined.name, 'family');
      const carol = await invite(a1, c1, created.spaceId, 'reader', 'Carol');

      // Everyone converges on what A and B write.
      await kithJson(a1, ['put', '--space', 'family', 'recipes', 'r1', '{"title":"soup","by":"a"}', '--sync']);
      await kithJson(b1, ['sync']);
      assert.deepEqual(await kithJson(b1, ['get', '--space', 'family', 'recipes', 'r1']), { id: 'r1', title: 'soup', by: 'a' });
      await kithJson(b1, ['put', '--space', 'family', 'recipes', 'r2', '{"title":"bread","by":"b"}', '--sync']);
      for (const h of [a1, a2, c1]) {
        await kithJson(h, ['sync']);
        const docs = await kithJson<Doc[]>(h, ['ls', '--space', created.spaceId, 'recipes']);
        assert.deepEqual(
          docs.map((d) => d.id),
          ['r1', 'r2'],
          `${h} sees the space's records`,
        );
      }
      // A's phone sees the space it never joined: A's devices share the list of spaces.
      const onPhone = await kithJson<{ spaceId: string; name: string; role: Role; members: number; synced: boolean }[]>(a2, ['space', 'ls']);
      assert.deepEqual(onPhone, [{ spaceId: created.spaceId, name: 'family', role: 'admin', members: 3, synced: true }]);

      // B pairs a phone: after a sync it has the space, with no admin step, and can write to it.
      await pairDevice(b1, b2, world.remoteOf('b'), 'b-phone');
      await kithJson(b1, ['sync']); // B's laptop certifies the phone in the space
      await kithJson(b2, ['sync']);
      assert.deepEqual(
        (await kithJson<{ spaceId: string; role: Role }[]>(b2, ['space', 'ls'])).map((s) => [s.spaceId, s.role]),
        [[created.spaceId, 'writer']],
      );
      assert.equal((await kithJson<Doc>(b2, ['get', '--space', 'family', 'recipes', 'r2']))['title'], 'bread');
      await kithJson(b2, ['put', '--space', 'family', 'recipes', 'r3', '{"title":"jam","by":"b-phone"}', '--sync']);
      await kithJson(a1, ['sync']);
      assert.equal((await kithJson<Doc>(a1, ['get', '--space', 'family', 'recipes', 'r3']))['by'], 'b-phone');
      const members = await kithJson<{ personId: string; name: string; role: Role; devices: number }[]>(a1, ['space', 'members', 'family']);
      const shape = (m: { name: string; role: Role; devices: number }): string => `${m.role} ${m.devices}`;
      assert.deepEqual(members.map((m) => (m.role === 'admin' ? shape(m) : `${m.name} ${shape(m)}`)).sort(), ['Bob writer 2', 'Carol reader 1', 'admin 2']);
      assert.equal(members.find((m) => m.name === 'Bob')?.personId, bob.personId);
      assert.equal(members.find((m) => m.name === 'Carol')?.personId, carol.personId);

      // C is a reader: refused locally, nothing written.
      assertFails(await kith(c1, ['put', '--space', 'family', 'recipes', 'c1', '{"title":"no"}']), 'KITH_FORBIDDEN');
      assertFails(await kith(c1, ['rm', '--space', 'family', 'recipes', 'r1']), 'KITH_FORBIDDEN');
      assert.equal((await kith(c1, ['get', '--space', 'family', 'recipes', 'c1'])).code, 1);

      // B revokes the phone: it is refused, and A's laptop counts one device for B.
      const bPhone = (await kithJson<{ deviceId: string; name: string }[]>(b1, ['devices'])).find((d) => d.name === 'b-phone')!;
      await kithJson(b1, ['devices', 'revoke', bPhone.deviceId]);
      await kithJson(b1, ['sync']); // drops the phone from B's certificate in the space
      assertFails(await kith(b2, ['put', '--space', 'family', 'recipes', 'r5', '{"title":"from a revoked phone"}', '--sync']), 'KITH_REVOKED');
      await kithJson(a1, ['sync']);
      assert.equal((await kithJson<{ name: string; devices: number }[]>(a1, ['space', 'members', 'family'])).find((m) => m.name === 'Bob')?.devices, 1);
      assertFails(await kith(a1, ['get', '--space', 'family', 'recipes', 'r5']), 'KITH_NOT_FOUND');

      // A removes B: what A writes afterwards never reaches B's devices; C still reads it.
      assert.deepEqual(await kithJson(a1, ['space', 'remove', 'family', 'Bob']), { ok: true });
      await kithJson(a1, ['put', '--space', 'family', 'recipes', 'r4', '{"title":"after-removal-4b1e"}', '--sync']);
      for (const h of [b1, b2]) {
        const synced = await kith(h, ['sync']);
        if (synced.code !== 0) assertFails(synced, 'KITH_REMOVED', 'KITH_REVOKED'); // (the phone was revoked above)
        assertFails(await kith(h, ['get', '--space', created.spaceId, 'recipes', 'r4']), 'KITH_NOT_FOUND', 'KITH_REMOVED');
        assert.ok(!bytesUnder(h).includes('after-removal-4b1e'), `${h} holds nothing written after the removal`);
      }
      await kithJson(c1, ['sync']);
      assert.equal((await kithJson<Doc>(c1, ['get', '--space', 'family', 'recipes', 'r4']))['title'], 'after-removal-4b1e');
      const after = await kithJson<{ name: string }[]>(a1, ['space', 'members', 'family']);
      assert.ok(!after.some((m) => m.name === 'Bob'));

      // A blob A stores after the removal: C fetches it, B cannot.
      const photo = join(world.dir, 'photo.txt');
      writeFileSync(photo, 'blob-after-removal-93d2');
      const { ref } = await kithJson<{ ref: string }>(a1, ['blob', 'put', '--space', 'family', photo]);
      await kithJson(a1, ['put', '--space', 'family', 'photos', 'p1', JSON.stringify({ blob: ref }), '--sync']);
      await kithJson(c1, ['sync']);
      await kithJson(c1, ['blob', 'get', '--space', 'family', ref, '-o', join(world.dir, 'c-photo.txt')]);
      assert.equal(readFileSync(join(world.dir, 'c-photo.txt'), 'utf8'), 'blob-after-removal-93d2');
      assertFails(await kith(b1, ['blob', 'get', '--space', created.spaceId, ref, '-o', join(world.dir, 'b-photo.txt')]), 'KITH_REMOVED');
      assert.ok(!bytesUnder(b1).includes('blob-after-removal-93d2'));

      // A's personal records never reach B or C.
      for (const h of [b1, b2, c1]) {
        assertFails(await kith(h, ['get', 'diary', 'd1']), 'KITH_NOT_FOUND');
        assert.ok(!bytesUnder(h).includes(marker), `${h} holds none of A's personal records`);
      }
    } finally {
      await world.cleanup();
    }
  });
}
