/**
 * Crash safety with real processes on a folder remote: `kill -9` during
 * import, push and pull at random moments, many rounds. No acknowledged
 * write may be lost, no import may be partial, and the devices converge.
 */
import { test } from 'node:test';
import { join } from 'node:path';
import { runCrashRounds } from './crash-rounds.js';

const ROUNDS = Number(process.env['KITH_CRASH_ROUNDS'] ?? 10);

test(`folder: kill -9 during import, push and pull (${ROUNDS} rounds) loses no acknowledged write`, { timeout: 15 * 60_000 }, () =>
  runCrashRounds(ROUNDS, (dir) => join(dir, 'remote')),
);
