import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertError, kithJson, runKith } from './testing/index.js';

type Doc = { id: string; [k: string]: unknown };

/** Every record of every collection a home lists, sorted, for comparing two vaults. */
function allRecords(home: string, collections: readonly string[]): Record<string, Doc[]> {
  return Object.fromEntries(collections.map((c) => [c, kithJson<Doc[]>(home, ['ls', c])]));
}

describe('kith export', () => {
  let dir: string;
  let a: string;
  let photo: Buffer;
  let note: Buffer;
  let refs: string[];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kith-cli-export-'));
    a = join(dir, 'a');
    kithJson(a, ['init', '--remote', join(dir, 'remote-a'), '--name', 'laptop']);
    // 5 MiB of noise (several chunks) and a small text file.
    photo = randomBytes(5 * 1024 * 1024 + 17);
    note = Buffer.from('a small attachment\n');
    writeFileSync(join(dir, 'photo.jpg'), photo);
    writeFileSync(join(dir, 'note.txt'), note);
    refs = [join(dir, 'photo.jpg'), join(dir, 'note.txt')].map((f) => kithJson<{ ref: string }>(a, ['blob', 'put', f]).ref);
    const notes = [
      { id: 'n1', title: 'one', nested: { deep: [1, 2, { x: null }] } },
      { id: 'n2', title: 'ünïcödé ✓', __proto__field: true },
      { id: 'with space', title: 'odd id', photo: refs[0] },
    ];
    kithJson(a, ['import', 'notes', '-'], notes.map((n) => JSON.stringify(n)).join('\n'));
    kithJson(a, ['put', 'tasks', 't1', JSON.stringify({ done: false, attachment: refs[1], constructor: 'a field named like a prototype member' })]);
    kithJson(a, ['put', 'gone', 'g1', '{"x":1}']);
    kithJson(a, ['rm', 'gone', 'g1']);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('export then import into a new vault gives the same records, and blob files byte-identical', () => {
    const out = join(dir, 'export');
    const r = kithJson<{ collections: number; records: number; blobs: number }>(a, ['export', out]);
    assert.deepEqual(r, { collections: 2, records: 4, blobs: 2 });
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as {
      format: string;
      version: number;
      vaultId: string;
      collections: { name: string; file: string; records: number }[];
      blobs: { ref: string; file: string; size: number; sha256: string; name?: string }[];
    };
    assert.equal(manifest.format, 'kith-export');
    assert.equal(manifest.version, 1);
    assert.deepEqual(
      manifest.collections.map((c) => [c.name, c.file, c.records]),
      [
        ['notes', 'collections/notes.jsonl', 3],
        ['tasks', 'collections/tasks.jsonl', 1],
      ],
    );
    assert.deepEqual(readdirSync(join(out, 'collections')).sort(), ['notes.jsonl', 'tasks.jsonl'], 'a collection with only deleted records is not exported');
    const byRef = new Map(manifest.blobs.map((b) => [b.ref, b]));
    for (const [ref, bytes] of [
      [refs[0]!, photo],
      [refs[1]!, note],
    ] as const) {
      const b = byRef.get(ref)!;
      const file = readFileSync(join(out, b.file));
      assert.ok(file.equals(bytes), `${b.file} holds the blob's bytes`);
      assert.equal(b.size, bytes.length);
      assert.equal(b.sha256, createHash('sha256').update(bytes).digest('hex'));
    }
    // Re-import into a new vault, line files as they are.
    const b = join(dir, 'b');
    kithJson(b, ['init', '--remote', join(dir, 'remote-b')]);
    for (const c of manifest.collections) kithJson(b, ['import', c.name, join(out, c.file)]);
    assert.deepEqual(allRecords(b, ['notes', 'tasks']), allRecords(a, ['notes', 'tasks']));
    assert.equal(kithJson<Doc>(b, ['get', 'tasks', 't1'])['constructor'], 'a field named like a prototype member');
  });

  test('a non-empty directory is refused, and nothing is written into it', () => {
    const out = join(dir, 'busy');
    mkdirSync(out);
    writeFileSync(join(out, 'keep.txt'), 'mine');
    assertError(runKith(a, ['export', out]), 1, 'KITH_BAD_INPUT');
    assert.deepEqual(readdirSync(out), ['keep.txt']);
  });
});
