/** Issue #16's three people through folder remotes (see spaces-cli.test.support.ts). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { threePeopleScenario } from './spaces-cli.test.support.js';

threePeopleScenario('folder remotes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kith-spaces-cli-'));
  return {
    dir,
    remoteOf: (person) => join(dir, `remote-${person}`),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
