/**
 * @module testing/relay-process
 * Starts a relay as a child process (see relay-main.ts), embedded or
 * scale-out, so a test can kill -9 it mid-write and start it again on the
 * same data.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

/** A relay running in a child process. */
export interface RelayProcess {
  readonly url: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** SIGKILL: no chance to flush or close anything. */
  kill9(): Promise<void>;
  /** SIGTERM: graceful shutdown. */
  stop(): Promise<void>;
}

/**
 * What a relay process serves from: a data directory (embedded), or
 * PostgreSQL and S3 (scale-out); `authSecret` (≥ 32 bytes of text) is the
 * secret processes of one deployment share, so each accepts the others' tokens.
 */
export type RelayProcessOptions = ({ readonly dataDir: string } | { readonly postgres: string; readonly s3: string }) & { readonly authSecret?: string };

const MAIN = fileURLToPath(new URL('./relay-main.js', import.meta.url));

/**
 * Spawns a relay on a data directory (a string) or on PostgreSQL and S3
 * (`{ postgres, s3 }`: S3 credentials come from this process's
 * environment), on `port` (default any free one); resolves once it listens.
 *
 * @example
 * const proc = await spawnRelayProcess({ postgres: await pgServer.database(), s3: s3.url(await s3.bucket()) });
 * await proc.kill9();
 */
export function spawnRelayProcess(from: string | RelayProcessOptions, port = 0): Promise<RelayProcess> {
  const o = typeof from === 'string' ? { dataDir: from } : from;
  const args = 'dataDir' in o ? [o.dataDir] : ['--postgres', o.postgres, '--s3', o.s3];
  const env = { ...process.env, ...(o.authSecret !== undefined ? { KITH_RELAY_SECRET: o.authSecret } : {}) };
  // Node flags for the relay alone (e.g. `--cpu-prof --cpu-prof-dir=DIR` to profile it under a benchmark's load).
  const nodeArgs = (process.env['KITH_RELAY_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, MAIN, ...args, String(port)], { stdio: ['ignore', 'pipe', 'inherit'], env });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ended = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error('relay process did not start within 10 s')), 10_000);
    child.once('exit', (code) => reject(new Error(`relay process exited early (${code})`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      const { url } = JSON.parse(line) as { url: string };
      resolve({ url, port: Number(new URL(url).port), child, kill9: () => ended('SIGKILL'), stop: () => ended('SIGTERM') });
    });
  });
}
