/**
 * Kith's bootstrap from a snapshot: device A fills and pushes the same
 * records as `kith.prep`, then calls `vault.snapshot()`; a brand-new
 * device B restores from the recovery code and starts from that snapshot
 * (plus an empty tail) instead of replaying every segment.
 * @module
 */
import { join } from 'node:path';
import { WARM_N, type Task } from '../measure.js';
import { cpuTime } from './floors.js';
import { bootstrap, prepare } from './kith.js';

/**
 * Device B's bootstrap alone: time, bytes and requests it moved, peak RSS, and the process's CPU time over
 * it (every thread; opening the remote included, about a millisecond), which moves far less with the load.
 */
async function measure(n: number, base: string, warm: boolean) {
  const [boot, bootstrapCpuMs] = await cpuTime(() => bootstrap(n, base, warm, true));
  await boot.result.close();
  return { bootstrapMs: boot.ms, bootstrapCpuMs, bootstrapBytes: boot.bytes, bootstrapRequests: boot.requests, bootstrapRssMiB: boot.rssMiB };
}

/** Snapshot tasks: `prep` (device A, once per size, ends with a snapshot), `bootstrap` (device B), each after a small warm-up. */
export const tasks: Record<string, Task> = {
  async prep(n, dir) {
    await prepare(WARM_N, join(dir, 'warm'), true, true);
    return prepare(n, dir, false, true);
  },
  async bootstrap(n, dir) {
    await measure(WARM_N, join(dir, 'warm'), true);
    return measure(n, dir, false);
  },
};
