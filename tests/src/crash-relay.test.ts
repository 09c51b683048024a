/**
 * The crash test through a relay: two kith processes on relays running in
 * their own processes, killed with SIGKILL during import, push and pull at
 * random moments. Embedded (one relay, SQLite) and scale-out (two relay
 * processes sharing PostgreSQL and s3rver, one device on each).
 */
import { test } from 'node:test';
import { join } from 'node:path';
import { spawnRelayProcess, startScaleOutServices, type RelayProcess, type ScaleOutServices } from '@kith/relay-server/testing';
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

test(
  `relay scale-out, a device on each of two relay processes: kill -9 during import, push and pull (${ROUNDS} rounds) loses no acknowledged write`,
  { timeout: 15 * 60_000 },
  async () => {
    let services: ScaleOutServices | undefined;
    const relays: RelayProcess[] = [];
    try {
      services = await startScaleOutServices();
      const target = { ...(await services.fresh()), authSecret: 'one secret for both relay processes, 32+ bytes' };
      relays.push(await spawnRelayProcess(target), await spawnRelayProcess(target));
      await runCrashRounds(ROUNDS, () => ({ a: `${relays[0]!.url}/crash`, b: `${relays[1]!.url}/crash` }));
    } finally {
      await Promise.all(relays.map((r) => r.stop()));
      await services?.stop();
    }
  },
);
