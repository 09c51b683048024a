/**
 * @module testing/relay-process
 * Starts a relay as a child process (see relay-main.ts), so a test can
 * kill -9 it mid-write and start it again on the same data.
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

const MAIN = fileURLToPath(new URL('./relay-main.js', import.meta.url));

/** Spawns a relay on `dataDir` (and `port`, default any free one); resolves once it listens. */
export function spawnRelayProcess(dataDir: string, port = 0): Promise<RelayProcess> {
  const child = spawn(process.execPath, [MAIN, dataDir, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
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
