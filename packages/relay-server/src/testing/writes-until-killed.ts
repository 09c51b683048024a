/**
 * @module testing/writes-until-killed
 * The write side of a kill -9 test: several writers put numbered objects
 * as fast as the relay takes them, the relay is killed once enough were
 * acknowledged, and the test learns exactly which writes were.
 */
import type { Remote } from '@kith/core/adapter';

/** Options of {@link writeUntilKilled}. */
export interface KillDuringWrites {
  /** The key of write `i`. */
  readonly keyOf: (i: number) => string;
  /** The bytes of write `i`. */
  readonly payload: (i: number) => Uint8Array;
  /** Kills the relay (SIGKILL); called once `killAfter` writes were acknowledged. */
  readonly kill: () => Promise<void>;
  /** Acknowledged writes before the kill (default 60). */
  readonly killAfter?: number;
  /** Writers in flight at once (default 8), so the kill lands mid-write. */
  readonly writers?: number;
}

/**
 * Writes through `client` (which should not retry) until the relay dies;
 * resolves to the numbers of the writes it acknowledged.
 *
 * @example
 * const acked = await writeUntilKilled(tv.remote(0, { retry: { maxAttempts: 1 } }), { keyOf, payload, kill: () => proc.kill9() });
 */
export async function writeUntilKilled(client: Remote, o: KillDuringWrites): Promise<Set<number>> {
  const acked = new Set<number>();
  let next = 0;
  const writer = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      try {
        await client.put(o.keyOf(i), o.payload(i));
        acked.add(i);
      } catch {
        return; // the relay died
      }
    }
  };
  const writers = Array.from({ length: o.writers ?? 8 }, writer);
  while (acked.size < (o.killAfter ?? 60)) await new Promise((r) => setTimeout(r, 2));
  await o.kill();
  await Promise.all(writers);
  return acked;
}
