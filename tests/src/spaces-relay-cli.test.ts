/**
 * Issue #16's three people through one relay process (see
 * spaces-cli.test.support.ts): each person's vault and the space are relay
 * vaults. Needs the relay's space authorization (spacerelay branch: space
 * vaults, the person signer) in both the relay server and its client.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveRelay } from 'kith/testing';
import { threePeopleScenario } from './spaces-cli.test.support.js';

threePeopleScenario('relay', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kith-spaces-relay-cli-'));
  const relay = await serveRelay(join(dir, 'relay-home'), ['--data', join(dir, 'relay-data')]);
  return {
    dir,
    remoteOf: (person) => `${relay.url}/person-${person}`,
    cleanup: async () => {
      await relay.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
