/**
 * @module testing/postgres-runner
 * Runs one throwaway PostgreSQL server for postgres-process.ts, as that
 * module's child: it starts `postgres` (as the `postgres` user when we are
 * root), prints `{"ready":true}` once the server accepts connections, and
 * obeys `stop` / `kill` / `start` lines on stdin (fast shutdown, SIGKILL of
 * the postmaster, start again on the same data). When stdin ends — the test process finished or died, even by
 * SIGKILL — it shuts the server down and removes RUN_DIR, so a crashed test
 * leaves no server behind.
 * Usage: node postgres-runner.js '{"bin":..., "runDir":..., "port":N, "uid":N, "gid":N, "crashSafe":true}'
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

interface RunnerConfig {
  readonly bin: string;
  readonly runDir: string;
  readonly port: number;
  readonly uid?: number;
  readonly gid?: number;
  /** Keep synchronous commits: a commit then survives a SIGKILL of the server. */
  readonly crashSafe?: boolean;
}

const config = JSON.parse(process.argv[2] ?? '{}') as RunnerConfig;
let server: ChildProcess | undefined;
let quitting = false;

const say = (msg: object): void => void process.stdout.write(`${JSON.stringify(msg)}\n`);

function start(): void {
  const args = ['-D', join(config.runDir, 'data'), '-p', String(config.port), '-k', config.runDir];
  // Throwaway: nothing here must survive a power cut, so skip every flush.
  const settings = ['listen_addresses=127.0.0.1', 'fsync=off', 'full_page_writes=off', 'max_connections=200', 'log_min_messages=warning'];
  // A kill -9 loses what the WAL writer had not yet written unless commits are synchronous.
  if (!config.crashSafe) settings.push('synchronous_commit=off');
  for (const setting of settings) {
    args.push('-c', setting);
  }
  const ids = config.uid === undefined ? {} : { uid: config.uid, gid: config.gid ?? config.uid };
  const child = spawn(join(config.bin, 'postgres'), args, { stdio: ['ignore', 'ignore', 'pipe'], ...ids });
  server = child;
  let log = '';
  let ready = false;
  createInterface({ input: child.stderr }).on('line', (line) => {
    if (!ready && line.includes('ready to accept connections')) {
      ready = true;
      say({ ready: true });
    } else if (!ready) log += `${line}\n`;
  });
  child.once('exit', (code, signal) => {
    if (server === child) server = undefined;
    if (!ready) say({ failed: `postgres exited (${code ?? signal}) before it was ready: ${log.trim().split('\n').slice(-5).join(' | ')}` });
    else say({ stopped: true });
    if (quitting) finish();
  });
}

function stop(): void {
  // SIGINT is PostgreSQL's "fast" shutdown: clients are disconnected at once.
  if (server) server.kill('SIGINT');
  else say({ stopped: true });
}

function quit(): void {
  if (quitting) return;
  quitting = true;
  if (server) server.kill('SIGINT');
  else finish();
}

function finish(): void {
  rmSync(config.runDir, { recursive: true, force: true });
  process.exit(0);
}

/** SIGKILL of the postmaster: no shutdown at all; its backends notice and exit, the next start recovers. */
function kill(): void {
  if (server) server.kill('SIGKILL');
  else say({ stopped: true });
}

createInterface({ input: process.stdin })
  .on('line', (line) => {
    if (line === 'stop') stop();
    else if (line === 'kill') kill();
    else if (line === 'start' && !server) start();
  })
  .on('close', quit);
process.once('SIGTERM', quit);
start();
