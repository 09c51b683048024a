/**
 * Test helper: runs the real `kith` binary as a child process.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const KITH_BIN = fileURLToPath(new URL('../bin/kith.js', import.meta.url));

export interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runKith(home: string, args: readonly string[], o: { input?: string | Buffer; env?: Record<string, string> } = {}): Run {
  const r = spawnSync(process.execPath, [KITH_BIN, '--home', home, ...args], {
    input: o.input ?? '',
    encoding: 'utf8',
    maxBuffer: 512 * 1024 * 1024,
    env: { ...process.env, ...o.env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs with --json, expects exit 0 and exactly one JSON value on stdout. */
export function kithJson<T = unknown>(home: string, args: readonly string[], input?: string): T {
  const r = runKith(home, [...args, '--json'], input === undefined ? {} : { input });
  if (r.status !== 0) throw new Error(`kith ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
