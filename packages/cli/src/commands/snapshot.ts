/**
 * @module commands/snapshot
 * `kith snapshot`: syncs, then writes an encrypted, signed snapshot of the
 * vault's state, from which new devices start instead of replaying the
 * whole history. Chunks the remote already holds are not sent again.
 */
import type { Command } from 'commander';
import { withVault } from '../home.js';
import { contextOf } from './shared.js';

/** Adds `snapshot` to the program. */
export function registerSnapshot(program: Command): void {
  program
    .command('snapshot')
    .description('sync, then write a snapshot of the state that new devices start from (unchanged parts are not uploaded again)')
    .action(async (_o: unknown, cmd: Command) => {
      const { opts, out } = contextOf(cmd);
      const r = await withVault(opts, (v) => v.snapshot());
      const result = { snapshot: r.snapshot, records: r.records, bytes: r.bytes, uploaded: r.uploaded };
      out.result(result, () => `Wrote ${r.snapshot}: ${r.records} records, ${r.bytes} bytes of state, ${r.uploaded} bytes uploaded.`);
    });
}
