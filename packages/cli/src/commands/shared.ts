/**
 * @module commands/shared
 * What every command needs: its global options and output.
 */
import { ErrorCode, KithError } from '@kith/core';
import type { Command } from 'commander';
import { Output, type GlobalOptions } from '../output.js';

/** Global options and output of the command being run. */
export function contextOf(cmd: Command): { opts: GlobalOptions; out: Output } {
  const opts = cmd.optsWithGlobals<GlobalOptions>();
  return { opts, out: new Output(opts) };
}

/** A positive integer option. */
export function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n <= 0) throw new KithError(ErrorCode.Usage, `${name} must be a positive integer, got ${JSON.stringify(v)}`);
    return n;
  };
}

/** Collects a repeatable option. */
export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];
