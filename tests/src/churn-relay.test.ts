/** Churn through a relay running in its own process (embedded SQLite storage), with the real SQLite store (see churn.test.support.ts). */
import { test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openRelayRemote } from '@kith/relay';
import { spawnRelayProcess } from '@kith/relay-server/testing';
import { openSqliteStore } from '@kith/sqlite';
import { RECORDS, UPDATES, runChurn } from './churn.test.support.js';

test(
  `relay process: churn ${RECORDS} records × ${UPDATES} updates, snapshot, compact: the remote within 2× of a fresh snapshot, a new device within 1.5×, an offline device keeps its writes`,
  { timeout: 10 * 60_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kith-churn-relay-'));
    const relay = await spawnRelayProcess(join(dir, 'relay'));
    try {
      const figures = await runChurn({
        openRemote: async (location) => openRelayRemote(`${relay.url}/churn-${location}`),
        openStore: (name) => openSqliteStore(join(dir, `device-${name}`, 'kith.db')),
      });
      console.log(JSON.stringify(figures));
    } finally {
      await relay.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
