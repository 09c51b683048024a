/**
 * Runs the real `kith` CLI as a child process, as a device would.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const KITH_BIN = fileURLToPath(new URL('../../packages/cli/bin/kith.js', import.meta.url));

export interface KithRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Starts `kith --home HOME ...args`; `killAfterMs` sends SIGKILL at that
 * moment, `killWhen` as soon as it holds (checked every 10 ms).
 */
export function kith(home: string, args: readonly string[], o: { input?: string; killAfterMs?: number; killWhen?: () => boolean; env?: NodeJS.ProcessEnv } = {}): Promise<KithRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [KITH_BIN, '--home', home, ...args], { stdio: ['pipe', 'pipe', 'pipe'], ...(o.env ? { env: o.env } : {}) });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.on('error', () => undefined); // killed before reading its input
    child.stdin.end(o.input ?? '');
    const timer = o.killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), o.killAfterMs);
    const killWhen = o.killWhen;
    const poll = killWhen && setInterval(() => killWhen() && child.kill('SIGKILL'), 10);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearInterval(poll);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Runs kith with --json and parses stdout; throws with stderr on failure. */
export async function kithJson<T>(home: string, args: readonly string[], input?: string): Promise<T> {
  const r = await kith(home, [...args, '--json'], input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`kith ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as T;
}
