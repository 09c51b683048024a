import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

// The public surface is whatever packages/core/api/core.api.md lists: an
// export added, removed or changed in kind without the report fails here,
// so a change to the API is always a reviewed line in a commit.
const script = new URL('../../../scripts/api-report.mjs', import.meta.url);

/** Each line prefixed by its entry's heading, so a changed row says which entry it is in. */
function tagged(report: string): string[] {
  let entry = '';
  return report.split('\n').map((line) => {
    if (line.startsWith('## ')) entry = line.slice(3);
    return entry ? `${entry} ${line}` : line;
  });
}

test('the API report matches the exports of every entry', { timeout: 120_000 }, async () => {
  const { apiReport, reportPath } = (await import(script.href)) as { apiReport: () => Promise<string>; reportPath: string };
  const built = await apiReport();
  const committed = readFileSync(reportPath, 'utf8');
  if (built === committed) return;
  const before = new Set(tagged(committed));
  const after = new Set(tagged(built));
  const changes = [...[...after].filter((l) => !before.has(l)).map((l) => `+ ${l}`), ...[...before].filter((l) => !after.has(l)).map((l) => `- ${l}`)];
  assert.fail(`exported names changed; run \`npm run api\` and commit packages/core/api/core.api.md\n${changes.join('\n')}`);
});
