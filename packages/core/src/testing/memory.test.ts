import { runStoreConformance } from './store-conformance.js';
import { runRemoteConformance } from './remote-conformance.js';
import { runSyncScenarios, type ScenarioHarness } from './sync-scenarios.js';
import { runCheckScenarios } from './check-scenarios.js';
import { newMemoryStoreData, openMemoryStore } from './memory-store.js';
import { openMemoryRemote } from './memory-remote.js';
import type { Store } from '../ports/store.js';

// The in-memory reference implementations pass the same suites as the real adapters.
runStoreConformance('memory store', async () => {
  const data = newMemoryStoreData();
  const opened: Store[] = [];
  const openOne = async (): Promise<Store> => {
    const s = openMemoryStore(data);
    opened.push(s);
    return s;
  };
  return {
    store: await openOne(),
    reopen: openOne,
    cleanup: async () => {
      for (const s of opened) await s.close();
    },
  };
});

/** Fresh in-memory locations per scenario. */
const memoryHarness = async (): Promise<ScenarioHarness> => {
  const locations = new Map<string, Map<string, Uint8Array>>();
  return {
    openRemote: async (location = 'main') => {
      let objects = locations.get(location);
      if (!objects) locations.set(location, (objects = new Map()));
      return openMemoryRemote(objects, `memory:${location}`);
    },
    openStore: async () => openMemoryStore(),
    cleanup: async () => locations.clear(),
  };
};

runSyncScenarios('memory remote + memory store', memoryHarness, { remoteUrl: 'memory:main' });
runCheckScenarios('memory remote + memory store', memoryHarness, { remoteUrl: 'memory:main' });

runRemoteConformance('memory remote', async () => ({ remote: openMemoryRemote(), cleanup: async () => undefined }), {
  racingOverwrites: true,
  tellsStored: true,
});
