/**
 * @kith/core speaks for any app (a browser app has no `kith init` and no
 * --home): no text in its runtime source names a CLI command, a flag, the
 * CLI's environment variables or its "home". The CLI adds its own wording
 * (packages/cli/src/hints.ts). Every string and template literal is read
 * with the TypeScript parser, so comments may still mention the CLI.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('../..', import.meta.url));
const coreSrc = join(root, 'packages/core/src');

const cliWords: readonly RegExp[] = [
  /`kith\b/, // a command to type
  /\bkith [a-z]/, // the command name, lower case (the product is "Kith")
  /(^|[\s(`'"])--[a-z]/, // a flag
  /\bKITH_PASSPHRASE\b/,
  /\bthe CLI\b/i,
  /\bhome\b/i, // the CLI's data directory; an app has its own storage
];

/** Core's runtime sources: tests and test helpers (testing/) may speak of the CLI. */
function runtimeSources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'testing') runtimeSources(p, out);
    } else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Every string literal and piece of a template literal in `code`, with its line. */
function literalsIn(name: string, code: string): { line: number; text: string }[] {
  const source = ts.createSourceFile(name, code, ts.ScriptTarget.Latest, true);
  const found: { line: number; text: string }[] = [];
  const visit = (node: ts.Node): void => {
    if (
      ts.isStringLiteral(node) ||
      ts.isNoSubstitutionTemplateLiteral(node) ||
      ts.isTemplateHead(node) ||
      ts.isTemplateMiddle(node) ||
      ts.isTemplateTail(node)
    ) {
      found.push({ line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1, text: node.text });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const speaksCli = (text: string): boolean => cliWords.some((w) => w.test(text));

test('no message or hint in @kith/core names a CLI command, flag or home', () => {
  const files = runtimeSources(coreSrc);
  assert.ok(files.length > 50, `found only ${files.length} core sources under ${coreSrc}`);
  const offending = files.flatMap((f) =>
    literalsIn(f, readFileSync(f, 'utf8'))
      .filter((l) => speaksCli(l.text))
      .map((l) => `${relative(root, f)}:${l.line} ${JSON.stringify(l.text)}`),
  );
  assert.deepEqual(offending, []);
});

test('the scan sees CLI wording in strings and templates, and the product name is fine', () => {
  const probe = "throw new KithError(c, 'Kith on this device', { hint: `run \\`kith pair\\` again ${n} now` }); const h = 'use another --home';";
  assert.deepEqual(
    literalsIn('probe.ts', probe).map((l) => [l.text, speaksCli(l.text)]),
    [
      ['Kith on this device', false],
      ['run `kith pair` again ', true],
      [' now', false],
      ['use another --home', true],
    ],
  );
});
