import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { RELAY_ERROR_STATUSES } from './protocol.js';

test('docs/RELAY.md lists exactly the status table of the protocol', () => {
  const doc = readFileSync(new URL('../../../docs/RELAY.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('## Errors'), doc.indexOf('## Limits'));
  const documented = [...section.matchAll(/^\| (\d{3}) \| (.+?) \|/gm)].flatMap(([, status, codes]) =>
    [...codes!.matchAll(/`(KITH_[A-Z_]+)`/g)].map(([, code]) => `${status} ${code}`),
  );
  const table = RELAY_ERROR_STATUSES.map((r) => `${r.status} ${r.code}`);
  assert.deepEqual([...documented].sort(), [...table].sort());
});
