import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

test('the README example is readme.test.example.tsx, word for word (the build type-checks it, the Chromium test renders it)', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const example = readFileSync(new URL('../src/readme.test.example.tsx', import.meta.url), 'utf8');
  assert.ok(readme.includes('```tsx\n' + example + '```'), 'README.md does not show src/readme.test.example.tsx as it is');
});
