/** Devices on one memory remote with one hand-moved clock, for the compaction tests. */
import { seededRandom } from '../base/deps.js';
import { remoteKeys, snapshotKeys } from '../format/index.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { openMemoryStore } from '../testing/memory-store.js';
import { Vault } from '../vault/vault.js';
import type { VaultOptions } from '../vault/vault-types.js';

export const T0 = 1_767_225_600_000;
export const HOUR = 3600_000;
export const DAY = 24 * HOUR;
/** One clock for every device of a test, moved by hand (plus a tick per read: snapshot keys are per ms). */
export function clock() {
  let now = T0;
  return { now: () => ++now, advance: (ms: number) => (now += ms) };
}
export const segmentsOf = (objects: Map<string, Uint8Array>, device: string): number[] =>
  [...objects.keys()].filter((k) => k.startsWith(remoteKeys.segmentPrefix(device))).map((k) => Number(k.slice(-12)));
export const snapshotsIn = (objects: Map<string, Uint8Array>): string[] => [...objects.keys()].filter((k) => k.startsWith(snapshotKeys.prefix));

type Extra = Partial<Omit<VaultOptions, 'store' | 'remote' | 'deps'>>;

/** Another device of the vault (restored with the recovery code) on the same objects and clock. */
export function restoreDevice(
  objects: Map<string, Uint8Array>,
  recoveryCode: string,
  c: ReturnType<typeof clock>,
  seed: number,
  extra: Extra = {},
): Promise<Vault> {
  return Vault.restore({
    remoteUrl: 'memory:',
    snapshotEvery: false,
    ...extra,
    store: openMemoryStore(),
    remote: openMemoryRemote(objects),
    recoveryCode,
    deps: { random: seededRandom(seed), now: c.now },
  });
}

export async function twoDevices(extra: Extra = {}) {
  const objects = new Map<string, Uint8Array>();
  const c = clock();
  const opts = { remoteUrl: 'memory:', snapshotEvery: false as const };
  const { vault: a, recoveryCode } = await Vault.create({
    ...opts,
    ...extra,
    store: openMemoryStore(),
    remote: openMemoryRemote(objects),
    deps: { random: seededRandom(1), now: c.now },
  });
  const b = await restoreDevice(objects, recoveryCode, c, 2, extra);
  return { objects, c, a, b, recoveryCode, opts };
}
