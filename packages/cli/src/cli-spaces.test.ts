/**
 * `kith space …` and `--space` through the real binary on a folder remote:
 * the contract's shapes, usage errors, invite codes (wrong, reused,
 * expired, declined at the prompt) and every record and blob command on
 * a space's records. The three-people scenario is tests/src/spaces-*-cli.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, KithError } from '@kith/core';
import { describeError } from './output.js';
import { assertError, kith, kithJson, kithJsonAsync, onTerminal, runKith, startKith, type KithRun } from './testing/index.js';

type Doc = { id: string; [k: string]: unknown };

/** A failed run's last stderr line names `code` (the lines before may show the SAS; with --json the line is `{"error":{...}}`). */
function assertLastLineError(r: KithRun, code: string): void {
  assert.equal(r.code, 1, `exit ${r.code}: ${r.stderr}`);
  const last = r.stderr.trimEnd().split('\n').at(-1)!;
  if (last.startsWith('{')) assert.equal((JSON.parse(last) as { error: { code: string } }).error.code, code);
  else assert.match(last, new RegExp(`^kith: .+ \\(${code}\\)$`));
}

test('KITH_FORBIDDEN and KITH_REMOVED name the commands that help', () => {
  const reader = new KithError(ErrorCode.Forbidden, 'you are a reader of space s1: you cannot write to it', { hint: 'as core says it', reason: 'reader' });
  assert.match(describeError(reader, false).line, /; .*`kith space role SPACE PERSON writer` \(KITH_FORBIDDEN\)$/);
  const removed = new KithError(ErrorCode.Removed, 'you were removed from space s1 by p1 (membership entry 4, 2026-12-06T22:00:00.000Z)', {
    hint: 'as core says it',
    reason: 'removed',
  });
  assert.match(describeError(removed, false).line, /^kith: you were removed from space s1 by p1 .*`kith space join CODE`.*\(KITH_REMOVED\)$/);
});

describe('kith space: the commands, their errors and --space', { timeout: 300_000 }, () => {
  let dir: string;
  let remote: string;
  let a1: string;
  let a2: string;
  let spaceId: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kith-cli-spaces-'));
    remote = join(dir, 'remote-a');
    a1 = join(dir, 'a1');
    a2 = join(dir, 'a2');
    kithJson(a1, ['init', '--remote', remote, '--name', 'laptop']);
    const pair = startKith(a1, ['pair', '--yes', '--json', '--timeout', '120']);
    const { code } = JSON.parse(await pair.firstLine) as { code: string };
    await kithJsonAsync(a2, ['join', code, '--remote', remote, '--name', 'phone']);
    assert.equal((await pair.done).code, 0);
    const created = kithJson<{ spaceId: string; name: string }>(a1, ['space', 'create', 'notebook']);
    assert.deepEqual(Object.keys(created).sort(), ['name', 'spaceId']);
    spaceId = created.spaceId;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('space ls, members and sync: the contract shapes, and text without --json', () => {
    assert.deepEqual(kithJson(a1, ['space', 'ls']), [{ spaceId, name: 'notebook', role: 'admin', members: 1, synced: true }]);
    const members = kithJson<{ personId: string; name: string; role: string; devices: number }[]>(a1, ['space', 'members', 'notebook']);
    assert.equal(members.length, 1);
    assert.deepEqual(Object.keys(members[0]!).sort(), ['devices', 'name', 'personId', 'role']);
    assert.equal(members[0]!.role, 'admin');
    const text = runKith(a1, ['space', 'ls']);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^${spaceId}  notebook  admin  1 member\\(s\\)\\n$`));
    kithJson(a1, ['sync']);
    kithJson(a2, ['sync']); // A's phone learns of the space from the personal space
    assert.deepEqual(kithJson(a2, ['space', 'sync', spaceId, 'off']), { ok: true });
    assert.equal(kithJson<{ synced: boolean }[]>(a2, ['space', 'ls'])[0]!.synced, false);
    assert.equal(kithJson<{ synced: boolean }[]>(a1, ['space', 'ls'])[0]!.synced, true, 'synced is chosen per device');
    // Off: this device's sync leaves the space alone; on again: it catches up.
    kithJson(a1, ['put', '--space', 'notebook', 'kept', 'k1', '{"while":"off"}', '--sync']);
    kithJson(a2, ['sync']);
    assertError(runKith(a2, ['get', '--space', 'notebook', 'kept', 'k1']), 1, 'KITH_NOT_FOUND');
    assert.deepEqual(kithJson(a2, ['space', 'sync', 'notebook', 'on']), { ok: true });
    kithJson(a2, ['sync']);
    assert.deepEqual(kithJson(a2, ['get', '--space', 'notebook', 'kept', 'k1']), { id: 'k1', while: 'off' });
    assert.equal(kithJson<{ synced: boolean }[]>(a2, ['space', 'ls'])[0]!.synced, true);
  });

  test('usage errors and unknown spaces: one line, nothing changed', () => {
    assertError(runKith(a1, ['space', 'invite', 'notebook', '--role', 'owner', '--yes']), 2, 'KITH_USAGE');
    assertError(runKith(a1, ['space', 'sync', 'notebook', 'maybe']), 2, 'KITH_USAGE');
    assertError(runKith(a1, ['space', 'role', 'notebook', 'someone', 'boss']), 2, 'KITH_USAGE');
    // No terminal to compare the digits on, no --yes: refused before a code exists.
    const noTty = runKith(a1, ['space', 'invite', 'notebook', '--timeout', '5']);
    assertError(noTty, 2, 'KITH_USAGE');
    assert.match(noTty.stderr, /no terminal.*--yes/);
    assertError(runKith(a1, ['get', '--space', 'no-such-space', 'notes', 'n1']), 1, 'KITH_NOT_FOUND');
    assertError(runKith(a1, ['put', '--space', 'no-such-space', 'notes', 'n1', '{}']), 1, 'KITH_NOT_FOUND');
    assertError(runKith(a1, ['space', 'members', 'no-such-space']), 1, 'KITH_NOT_FOUND');
    assertError(runKith(a1, ['space', 'remove', 'notebook', 'nobody']), 1, 'KITH_NOT_FOUND');
    assertError(runKith(a1, ['space', 'join', 'XXXX@/nowhere']), 1, 'KITH_BAD_INVITE_CODE');
    assertError(runKith(join(dir, 'nobody'), ['space', 'ls']), 1, 'KITH_NO_VAULT');
    assert.equal(kithJson<unknown[]>(a1, ['space', 'ls']).length, 1);
  });

  test('records, conflicts and history of a space with --space; the personal space stays apart', () => {
    kithJson(a1, ['put', 'notes', 'n1', '{"title":"personal"}']);
    kithJson(a1, ['put', '--space', 'notebook', 'notes', 'n1', '{"title":"shared","n":1}']);
    kithJson(a1, ['patch', '--space', 'notebook', 'notes', 'n1', '{"n":2}']);
    assert.deepEqual(kithJson(a1, ['get', '--space', 'notebook', 'notes', 'n1']), { id: 'n1', title: 'shared', n: 2 });
    assert.deepEqual(kithJson(a1, ['get', 'notes', 'n1']), { id: 'n1', title: 'personal' });
    assert.deepEqual(kithJson(a1, ['import', '--space', spaceId, 'notes', '-'], '{"id":"n2","title":"two"}\n{"id":"n3","title":"three"}\n'), { imported: 2 });
    kithJson(a1, ['rm', '--space', 'notebook', 'notes', 'n3', '--sync']);
    assert.deepEqual(
      kithJson<Doc[]>(a1, ['ls', '--space', 'notebook', 'notes']).map((d) => d.id),
      ['n1', 'n2'],
    );
    assert.deepEqual(
      kithJson<Doc[]>(a1, ['ls', 'notes']).map((d) => d.id),
      ['n1'],
    );

    // A conflict in the space: both devices set one field, then sync.
    kithJson(a2, ['sync']);
    assert.equal(kithJson<Doc>(a2, ['get', '--space', 'notebook', 'notes', 'n1'])['n'], 2);
    kithJson(a1, ['patch', '--space', 'notebook', 'notes', 'n2', '{"title":"laptop"}', '--sync']);
    kithJson(a2, ['patch', '--space', 'notebook', 'notes', 'n2', '{"title":"phone"}', '--sync']);
    kithJson(a1, ['sync']);
    assert.deepEqual(kithJson(a1, ['conflicts']), [], 'the personal space has none');
    const conflicts = kithJson<{ collection: string; id: string; field: string }[]>(a1, ['conflicts', '--space', 'notebook']);
    assert.deepEqual(
      conflicts.map((c) => [c.collection, c.id, c.field]),
      [['notes', 'n2', 'title']],
    );
    kithJson(a1, ['resolve', '--space', 'notebook', 'notes', 'n2', '--value', '"both"']);
    assert.deepEqual(kithJson(a1, ['conflicts', '--space', 'notebook']), []);
    assert.equal(kithJson<Doc>(a1, ['get', '--space', 'notebook', 'notes', 'n2'])['title'], 'both');
    const log = kithJson<{ collection: string; id: string; kind: string }[]>(a1, ['log', '--space', 'notebook', 'notes', 'n3']);
    assert.deepEqual(
      log.map((e) => e.kind),
      ['put', 'delete'],
    );
    assert.equal(kithJson<unknown[]>(a1, ['log', 'notes', 'n3']).length, 0, "the personal log has none of the space's changes");
  });

  test('blob put, get and ls with --space: stored in the space, fetched by another device through it', () => {
    const file = join(dir, 'photo.bin');
    writeFileSync(file, Buffer.alloc(300_000, 7));
    const put = kithJson<{ ref: string; size: number }>(a1, ['blob', 'put', '--space', 'notebook', file, '--type', 'application/octet-stream']);
    assert.equal(put.size, 300_000);
    kithJson(a1, ['put', '--space', 'notebook', 'photos', 'p1', JSON.stringify({ blob: put.ref }), '--sync']);
    kithJson(a2, ['sync']);
    const out = join(dir, 'photo.out');
    kithJson(a2, ['blob', 'get', '--space', 'notebook', put.ref, '-o', out]);
    assert.deepEqual(readFileSync(out), readFileSync(file));
    assert.ok(kithJson<{ ref: string }[]>(a1, ['blob', 'ls', '--space', 'notebook']).some((b) => b.ref === put.ref));
    assert.ok(!kithJson<{ ref: string }[]>(a1, ['blob', 'ls']).some((b) => b.ref === put.ref), "the personal space's blobs are its own");
  });

  describe('invite codes', () => {
    let b: string;
    before(() => {
      b = join(dir, 'b');
      kithJson(b, ['init', '--remote', join(dir, 'remote-b'), '--name', 'b-laptop']);
    });

    test('a code works once: the second person to use it is refused', async () => {
      const inviting = startKith(a1, ['space', 'invite', 'notebook', '--role', 'reader', '--yes', '--json', '--timeout', '120']);
      const { code } = JSON.parse(await inviting.firstLine) as { code: string };
      const joined = await kithJsonAsync<{ spaceId: string; name: string; role: string; sas: string }>(b, ['space', 'join', code, '--name', 'Bea']);
      assert.deepEqual({ ...joined, sas: '' }, { spaceId, name: 'notebook', role: 'reader', sas: '' });
      const done = await inviting.done;
      assert.equal(done.code, 0, done.stderr);
      const lines = done.stdout.trim().split('\n');
      assert.equal(lines.length, 2, 'the code first, the admitted person last');
      const admitted = JSON.parse(lines[1]!) as { personId: string; name: string; role: string; sas: string };
      assert.deepEqual(Object.keys(admitted).sort(), ['name', 'personId', 'role', 'sas']);
      assert.deepEqual([admitted.name, admitted.role, admitted.sas], ['Bea', 'reader', joined.sas]);

      const d = join(dir, 'd');
      kithJson(d, ['init', '--remote', join(dir, 'remote-d'), '--name', 'd-laptop']);
      assertLastLineError(await kith(d, ['space', 'join', code, '--timeout', '20']), 'KITH_INVITE_EXPIRED');
      assert.deepEqual(kithJson(d, ['space', 'ls']), []);
      // Bea can change nothing: she is a reader, and only admins change membership.
      assertError(runKith(b, ['put', '--space', 'notebook', 'notes', 'x', '{}']), 1, 'KITH_FORBIDDEN');
      assert.deepEqual(kithJson(a1, ['space', 'role', 'notebook', 'Bea', 'writer']), { ok: true });
      kithJson(b, ['sync']);
      kithJson(b, ['put', '--space', 'notebook', 'notes', 'from-bea', '{"ok":1}', '--sync']);
      kithJson(a1, ['sync']);
      assert.deepEqual(kithJson(a1, ['get', '--space', 'notebook', 'notes', 'from-bea']), { id: 'from-bea', ok: 1 });
      assert.deepEqual(kithJson(b, ['space', 'leave', 'notebook']), { ok: true });
      kithJson(a1, ['sync']);
      assert.ok(!kithJson<{ name: string }[]>(a1, ['space', 'members', 'notebook']).some((m) => m.name === 'Bea'));
    });

    test('a wrong code is refused and admits no one', async () => {
      const inviting = startKith(a1, ['space', 'invite', 'notebook', '--yes', '--json', '--timeout', '5']);
      const { code } = JSON.parse(await inviting.firstLine) as { code: string };
      const at = code.indexOf('@');
      const groups = code.slice(0, at).split('-');
      // Another code's first group: a code that names no invite, or one this one cannot open.
      groups[1] = groups[1] === 'AAAA' ? 'BBBB' : 'AAAA';
      const e = join(dir, 'e');
      kithJson(e, ['init', '--remote', join(dir, 'remote-e'), '--name', 'e-laptop']);
      const wrong = await kith(e, ['space', 'join', `${groups.join('-')}${code.slice(at)}`, '--timeout', '20']);
      assert.equal(wrong.code, 1, wrong.stderr);
      assert.match(wrong.stderr.trimEnd().split('\n').at(-1)!, /\((KITH_BAD_INVITE_CODE|KITH_INVITE_EXPIRED)\)$/);
      assertError(runKith(e, ['space', 'join', 'not-a-code']), 1, 'KITH_BAD_INVITE_CODE');
      assertLastLineError(await inviting.done, 'KITH_INVITE_EXPIRED');
      assert.deepEqual(kithJson(e, ['space', 'ls']), []);
    });

    test('an expired code is refused', async () => {
      const inviting = startKith(a1, ['space', 'invite', 'notebook', '--yes', '--json', '--timeout', '1']);
      const { code } = JSON.parse(await inviting.firstLine) as { code: string };
      assertLastLineError(await inviting.done, 'KITH_INVITE_EXPIRED');
      const f = join(dir, 'f');
      kithJson(f, ['init', '--remote', join(dir, 'remote-f'), '--name', 'f-laptop']);
      assertLastLineError(await kith(f, ['space', 'join', code, '--timeout', '20']), 'KITH_INVITE_EXPIRED');
      assert.deepEqual(kithJson(f, ['space', 'ls']), []);
    });

    /** Invites on a terminal; `home` joins as `name`; once the question shows, `answer` types on the terminal. */
    async function inviteThenAnswer(home: string, name: string, answer: string): Promise<{ joined: KithRun; adminExit: number | null }> {
      const t = onTerminal(a1, ['space', 'invite', 'notebook', '--timeout', '120']);
      await t.waitFor(/kith space join '([^']+)'/);
      const code = /kith space join '([^']+)'/.exec(t.screen())![1]!;
      kithJson(home, ['init', '--remote', `${home}-remote`, '--name', `${name}-laptop`]);
      const joining = kith(home, ['space', 'join', code, '--name', name, '--timeout', '60']);
      await t.waitFor(/\[y\/N\] $/);
      assert.match(t.screen(), new RegExp(`"${name}" \\(\\w+\\) wants to join notebook as writer`));
      t.type(answer);
      const joined = await joining;
      assert.match(joined.stderr, /Check that the admin's device shows: \d/);
      assert.deepEqual(kithJson(home, ['space', 'ls']), []);
      assert.ok(!kithJson<{ name: string }[]>(a1, ['space', 'members', 'notebook']).some((m) => m.name === name));
      return { joined, adminExit: await t.exited };
    }

    test('a "no" at the prompt: the invitee hears KITH_INVITE_DECLINED and is not a member', async () => {
      const r = await inviteThenAnswer(join(dir, 'g'), 'Gus', 'n\r');
      assertLastLineError(r.joined, 'KITH_INVITE_DECLINED');
      assert.equal(r.adminExit, 1);
    });

    test('Ctrl-C at the prompt: the invitee hears at once that the invite is off', async () => {
      const r = await inviteThenAnswer(join(dir, 'h'), 'Hal', '\u0003');
      assertLastLineError(r.joined, 'KITH_INVITE_EXPIRED');
      assert.match(r.joined.stderr, /cancelled by the admin/);
      assert.notEqual(r.adminExit, 0);
    });
  });
});
