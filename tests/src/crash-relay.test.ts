/**
 * The crash test through a relay: two kith processes on a relay running in
 * its own process, killed with SIGKILL during import, push and pull at
 * random moments.
 */
import { test } from 'node:test';
import { join } from 'node:path';
import { spawnRelayProcess, type RelayProcess } from '@kith/relay/testing';
import { runCrashRounds } from './crash-rounds.js';

const ROUNDS = Number(process.env['KITH_CRASH_ROUNDS_RELAY'] ?? 5);

test(`relay: kill -9 during import, push and pull (${ROUNDS} rounds) loses no acknowledged write`, { timeout: 15 * 60_000 }, async () => {
  let relay: RelayProcess | undefined;
  try {
    await runCrashRounds(ROUNDS, async (dir) => {
      relay = await spawnRelayProcess(join(dir, 'relay'));
      return `${relay.url}/crash`;
    });
  } finally {
    await relay?.stop();
  }
});
