/**
 * The shared sync and check scenarios through the folder remote, with the real SQLite
 * store on every device.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCheckScenarios, runSyncScenarios, type ScenarioHarness } from '@kith/core/testing';
import { openFolderRemote } from '@kith/folder';
import { openSqliteStore } from '@kith/sqlite';

async function folderHarness(): Promise<ScenarioHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'kith-scn-'));
  let stores = 0;
  return {
    openRemote: (location = 'main') => openFolderRemote(join(dir, 'remotes', location), { create: true }),
    openStore: () => openSqliteStore(join(dir, `device-${++stores}`, 'kith.db')),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

runSyncScenarios('folder remote + SQLite store', folderHarness, { remoteUrl: 'file:///scenario' });
runCheckScenarios('folder remote + SQLite store', folderHarness, { remoteUrl: 'file:///scenario' });
