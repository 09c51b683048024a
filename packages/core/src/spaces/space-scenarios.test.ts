import { openMemoryRemote } from '../testing/memory-remote.js';
import { runSpaceScenarios } from '../testing/space-scenarios.js';

runSpaceScenarios('memory remote', async () => {
  const objects = new Map<string, Uint8Array>();
  return { openRemote: async () => openMemoryRemote(objects), cleanup: async () => undefined };
});
