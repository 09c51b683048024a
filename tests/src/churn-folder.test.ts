/** Churn through the folder remote with the real SQLite store (see churn.test.support.ts). */
import { test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFolderRemote } from '@kith/folder';
import { openSqliteStore } from '@kith/sqlite';
import { RECORDS, UPDATES, runChurn } from './churn.test.support.js';

test(
  `folder remote: churn ${RECORDS} records × ${UPDATES} updates, snapshot, compact: the remote within 2× of a fresh snapshot, a new device within 1.5×, an offline device keeps its writes`,
  { timeout: 10 * 60_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kith-churn-'));
    try {
      const figures = await runChurn({
        openRemote: (location) => openFolderRemote(join(dir, 'remotes', location), { create: true }),
        openStore: (name) => openSqliteStore(join(dir, `device-${name}`, 'kith.db')),
      });
      console.log(JSON.stringify(figures));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
