/**
 * @module commands/shared
 * What every command needs: its global options and output.
 */
import { ErrorCode, KithError } from '@kith/core';
import type { Command } from 'commander';
import { Output, type GlobalOptions } from '../output.js';

const DAY_MS = 24 * 3600 * 1000;

/** Adds `--stale-after DAYS` (restore, join, pull, sync): warn when the remote's newest data is older. */
export function staleAfterOption(cmd: Command): Command {
  return cmd.option('--stale-after <days>', 'warn when the newest data on the remote is older than this many days', positiveNumber('--stale-after'), 7);
}

/** The library option for `--stale-after DAYS`. */
export function staleAfterMs(o: { staleAfter: number }): { staleAfterMs: number } {
  return { staleAfterMs: o.staleAfter * DAY_MS };
}

/** Global options and output of the command being run. */
export function contextOf(cmd: Command): { opts: GlobalOptions; out: Output } {
  const opts = cmd.optsWithGlobals<GlobalOptions>();
  return { opts, out: new Output(opts) };
}

/** A positive integer option. */
export function positiveInt(name: string): (v: string) => number {
  return positive(name, 'integer', Number.isSafeInteger);
}

/** A TCP port option: 1–65535, or 0 for any free port. */
export function portNumber(name: string): (v: string) => number {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65535)
      throw new KithError(ErrorCode.Usage, `${name} must be a port number (0–65535; 0 picks a free one), got ${JSON.stringify(v)}`);
    return n;
  };
}

/** A positive number option (fractions allowed, e.g. `--interval 0.5`). */
export function positiveNumber(name: string): (v: string) => number {
  return positive(name, 'number', Number.isFinite);
}

function positive(name: string, kind: string, ok: (n: number) => boolean): (v: string) => number {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !ok(n) || n <= 0) throw new KithError(ErrorCode.Usage, `${name} must be a positive ${kind}, got ${JSON.stringify(v)}`);
    return n;
  };
}

/** Collects a repeatable option. */
export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];
