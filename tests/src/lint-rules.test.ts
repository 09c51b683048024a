/**
 * The layering rules hold because lint fails when they are broken: an import
 * cycle (ESLint's import-x/no-cycle; dependency-cruiser for cycles of
 * type-only imports, which no-cycle skips) and a lower core layer importing
 * an upper one (no-restricted-imports per folder, eslint.config.js). Each
 * case lints a real core file with one import appended, or a fixture.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const root = fileURLToPath(new URL('../..', import.meta.url));
const jsonTs = join(root, 'packages/core/src/model/json.ts');

describe('lint fails when the layering rules are broken', { timeout: 600_000 }, () => {
  const eslint = new ESLint({ cwd: root });
  const source = readFileSync(jsonTs, 'utf8');
  /** The rules that report errors when `extra` is appended to model/json.ts. */
  const failingRules = async (extra: string): Promise<string[]> => {
    const [result] = await eslint.lintText(`${source}\n${extra}\n`, { filePath: jsonTs });
    return [...new Set(result!.messages.filter((m) => m.severity === 2).map((m) => m.ruleId ?? m.message))].sort();
  };

  test('the core file as it is passes', async () => {
    assert.deepEqual(await failingRules(''), []);
  });

  test('an import cycle: model/json.ts importing model/names.ts, which imports it', async () => {
    assert.ok((await failingRules("import * as names from './names.js';\nexport const n = names;")).includes('import-x/no-cycle'));
  });

  test('a lower layer importing an upper one: model/ importing vault/', async () => {
    const rules = await failingRules("import { Vault } from '../vault/vault.js';\nexport const v = Vault;");
    assert.ok(rules.includes('no-restricted-imports'), rules.join(', '));
  });

  test('core importing Node', async () => {
    assert.ok((await failingRules("import { readFileSync } from 'node:fs';\nexport const r = readFileSync;")).includes('no-restricted-imports'));
  });
});

describe('lint:cycles (dependency-cruiser) fails on a cycle of type-only imports', { timeout: 300_000 }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kith-cycles-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** `npm run lint:cycles`'s command and config, over `files` written to a fresh folder. */
  const cruise = (name: string, files: Record<string, string>): { status: number | null; out: string } => {
    for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, `${name}-${file}`), text);
    const bin = join(root, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
    const r = spawnSync(
      process.execPath,
      [bin, '--config', join(root, '.dependency-cruiser.mjs'), ...Object.keys(files).map((f) => join(dir, `${name}-${f}`))],
      { cwd: root, encoding: 'utf8' },
    );
    return { status: r.status, out: r.stdout + r.stderr };
  };

  test('two modules whose types import each other', () => {
    const r = cruise('types', {
      'a.ts': "import type { B } from './types-b.js';\nexport interface A { b?: B }\n",
      'b.ts': "import type { A } from './types-a.js';\nexport interface B { a?: A }\n",
    });
    assert.notEqual(r.status, 0, r.out);
    assert.match(r.out, /no-circular/);
    assert.match(r.out, /types-a\.ts/);
  });

  test('the same modules with the type moved down pass', () => {
    const r = cruise('fixed', {
      'a.ts': "import type { B } from './fixed-b.js';\nexport interface A { b?: B }\n",
      'b.ts': 'export interface B { a?: unknown }\n',
    });
    assert.equal(r.status, 0, r.out);
  });
});
