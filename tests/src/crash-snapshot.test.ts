/** kill -9 during `kith snapshot` on a folder remote and through a relay process (see crash-snapshot.test.support.ts). */
import { test } from 'node:test';
import { join } from 'node:path';
import { spawnRelayProcess, type RelayProcess } from '@kith/relay-server/testing';
import { runSnapshotCrashRounds } from './crash-snapshot.test.support.js';

const ROUNDS = Number(process.env['KITH_CRASH_ROUNDS_SNAPSHOT'] ?? 6);

test(
  `folder remote: kill -9 during kith snapshot (${ROUNDS} rounds × 2 devices) loses nothing and leaves a usable remote`,
  { timeout: 15 * 60_000 },
  async () => {
    await runSnapshotCrashRounds(ROUNDS, (dir) => ({ url: join(dir, 'remote'), folder: join(dir, 'remote') }));
  },
);

test(
  `relay process: kill -9 during kith snapshot (${ROUNDS} rounds × 2 devices) loses nothing and leaves a usable remote`,
  { timeout: 15 * 60_000 },
  async () => {
    let relay: RelayProcess | undefined;
    try {
      await runSnapshotCrashRounds(ROUNDS, async (dir) => {
        relay = await spawnRelayProcess(join(dir, 'relay'));
        return { url: `${relay.url}/crash-snapshot` };
      });
    } finally {
      await relay?.stop();
    }
  },
);
