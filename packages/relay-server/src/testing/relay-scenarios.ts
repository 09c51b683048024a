/**
 * @module relay-scenarios
 * The shared sync scenarios' harness on an authenticating relay, whatever
 * its storage: SQLite stores in a temp directory, devices that
 * authenticate with the key their vault lends, and tampering through the
 * operator's view of storage.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Remote } from '@kith/core/adapter';
import type { ScenarioHarness } from '@kith/core/testing';
import { openSqliteStore } from '@kith/sqlite';
import { openRelayRemote } from '@kith/relay';
import type { RelayStorage } from '../relay-storage.js';
import { operatorRemote, scenarioRemote } from './test-vaults.js';

/**
 * One scenario's harness: vaults named `<prefix>-<location>` on the relay
 * at `relayUrl`, whose objects `storage` holds.
 *
 * @example
 * runSyncScenarios('relay', async () => relayScenarioHarness(relay.url, storage, fresh()), { remoteUrl: 'http://relay.test/main' });
 */
export function relayScenarioHarness(relayUrl: string, storage: RelayStorage, prefix: string): ScenarioHarness {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kith-'));
  const remotes: Remote[] = [];
  let stores = 0;
  return {
    openRemote: async (location = 'main') => {
      const vault = `${prefix}-${location}`;
      const r = scenarioRemote(openRelayRemote(`${relayUrl}/${vault}`, { pollMs: 50 }), operatorRemote(storage, vault));
      remotes.push(r);
      return r;
    },
    openStore: () => openSqliteStore(path.join(dir, `device-${++stores}`, 'kith.db')),
    cleanup: async () => {
      await Promise.all(remotes.map((r) => r.close()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
