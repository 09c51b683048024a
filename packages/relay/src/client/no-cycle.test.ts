import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// import-x/no-cycle skips type-only imports; a cycle through types still ties the modules together.
const dir = fileURLToPath(new URL('../../src/client/', import.meta.url));
const IMPORT = /^(?:import|export)\b[^;]*?from\s+'(\.\/[^']+)\.js'/gm;

test('the relay client modules import each other without a cycle, type-only imports included', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
  const edges = new Map(files.map((f) => [f.slice(0, -3), [...readFileSync(dir + f, 'utf8').matchAll(IMPORT)].map((m) => m[1]!.slice(2))] as const));
  const done = new Set<string>();
  const visit = (m: string, path: string[]): void => {
    if (path.includes(m)) assert.fail(`import cycle: ${[...path.slice(path.indexOf(m)), m].join(' → ')}`);
    if (done.has(m)) return;
    for (const next of edges.get(m) ?? []) visit(next, [...path, m]);
    done.add(m);
  };
  assert.ok(edges.size >= 5, `read ${edges.size} modules`);
  for (const m of edges.keys()) visit(m, []);
});
