/**
 * @module commands/in-space
 * `--space SPACE` on the record and blob commands: the same command on a
 * shared space's records instead of the personal space's.
 */
import type { SpaceRecords, Vault } from '@kith/core';
import type { Command } from 'commander';

/** What a record or blob command works on: the vault's personal space, or one shared space. */
export type Records = Vault | SpaceRecords;

/** Adds `--space SPACE` to a command. */
export function spaceOption(cmd: Command): Command {
  return cmd.option('--space <space>', 'a shared space, by name or spaceId (default: your personal space)');
}

/** The records `--space` names, or the personal space's without it. */
export function inSpace(v: Vault, o: { space?: string }): Records {
  return o.space === undefined ? v : v.space(o.space);
}
