/**
 * The one way tests drive the real `kith` binary as a child process, as a
 * device would: the CLI's own tests and the integration tests (through
 * `kith/testing`) both use it.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, watch } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The `kith` entry point (`packages/cli/bin/kith.js`). */
export const KITH_BIN = fileURLToPath(new URL('../../bin/kith.js', import.meta.url));

/** What a finished `kith` process left behind. */
export interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Node's argv for `kith --home HOME ...args`. */
function kithArgv(home: string, args: readonly string[]): string[] {
  return [KITH_BIN, '--home', home, ...args];
}

/** Runs `kith --home HOME ...args` to completion; `input` goes to its stdin (empty by default). */
export function runKith(home: string, args: readonly string[], o: { input?: string | Buffer; env?: Record<string, string> } = {}): Run {
  const r = spawnSync(process.execPath, kithArgv(home, args), {
    input: o.input ?? '',
    encoding: 'utf8',
    maxBuffer: 512 * 1024 * 1024,
    env: { ...process.env, ...o.env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The one JSON value a `--json` run printed; throws with its stderr unless it exited 0. */
function jsonOf<T>(args: readonly string[], status: number | null, stdout: string, stderr: string): T {
  if (status !== 0) throw new Error(`kith ${args.join(' ')} exited ${status}: ${stderr.trim()}`);
  return JSON.parse(stdout) as T;
}

/** Runs with --json, expects exit 0 and exactly one JSON value on stdout. */
export function kithJson<T = unknown>(home: string, args: readonly string[], input?: string): T {
  const r = runKith(home, [...args, '--json'], input === undefined ? {} : { input });
  return jsonOf<T>(args, r.status, r.stdout, r.stderr);
}

/** What a finished {@link kith} process left behind, and the signal that ended it if one did. */
export interface KithRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Starts `kith --home HOME ...args` without blocking the event loop (for
 * tests that serve a remote in-process); `env` replaces the environment;
 * `killAfterMs` sends SIGKILL at that moment, `killWhen` as soon as it
 * holds (checked every 10 ms, and at once when an entry of a `watchDirs`
 * directory changes: a kill meant for the middle of a short command lands
 * there rather than up to a poll later, after its end); `onStdout` sees
 * stdout so far as it grows.
 */
export function kith(
  home: string,
  args: readonly string[],
  o: {
    input?: string;
    killAfterMs?: number;
    killWhen?: () => boolean;
    watchDirs?: readonly string[];
    env?: NodeJS.ProcessEnv;
    onStdout?: (soFar: string) => void;
  } = {},
): Promise<KithRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, kithArgv(home, args), { stdio: ['pipe', 'pipe', 'pipe'], ...(o.env ? { env: o.env } : {}) });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      o.onStdout?.(stdout);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.on('error', () => undefined); // killed before reading its input
    child.stdin.end(o.input ?? '');
    const timer = o.killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), o.killAfterMs);
    const killWhen = o.killWhen;
    const check = (): void => void (killWhen?.() && child.kill('SIGKILL'));
    const poll = killWhen && setInterval(check, 10);
    // A directory that does not exist (yet) is left to the poll.
    const watchers = killWhen ? (o.watchDirs ?? []).flatMap((d) => (existsSync(d) ? [watch(d, check)] : [])) : [];
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearInterval(poll);
      for (const w of watchers) w.close();
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A {@link kith} process that prints a first line and keeps running (`pair --json`, `space invite --json`: the code first). */
export interface Started {
  /** Its first stdout line; rejects if it ended without one. */
  readonly firstLine: Promise<string>;
  /** How it ended. */
  readonly done: Promise<KithRun>;
}

/** Starts `kith --home HOME ...args` (see {@link kith}) and hands over its first stdout line as soon as it is printed. */
export function startKith(home: string, args: readonly string[]): Started {
  let said: (line: string) => void = () => undefined;
  const firstLine = new Promise<string>((resolve) => (said = resolve));
  const done = kith(home, args, { onStdout: (s) => s.includes('\n') && said(s.slice(0, s.indexOf('\n'))) });
  return {
    firstLine: Promise.race([
      firstLine,
      done.then((r) => Promise.reject(new Error(`kith ${args.join(' ')} exited ${r.code} without a line: ${r.stderr.trim()}`))),
    ]),
    done,
  };
}

/** {@link kithJson} through {@link kith}: does not block the event loop. */
export async function kithJsonAsync<T = unknown>(home: string, args: readonly string[], input?: string): Promise<T> {
  const r = await kith(home, [...args, '--json'], input === undefined ? {} : { input });
  return jsonOf<T>(args, r.code, r.stdout, r.stderr);
}

/** An error run: exit code, exactly one stderr line `kith: ... (CODE)`, no stack trace, nothing on stdout. */
export function assertError(r: Run, exit: number, code: string): void {
  assert.equal(r.status, exit, `exit ${r.status}; stderr: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one stderr line, got: ${r.stderr}`);
  assert.match(lines[0]!, new RegExp(`^kith: .+ \\(${code}\\)$`));
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  assert.equal(r.stdout, '');
}

/** A `kith relay serve` process (see {@link serveRelay}). */
export interface ServedRelay {
  /** The URL it printed once listening (it took a free port). */
  readonly url: string;
  /** The folder of the web app it serves at `/`, or null. */
  readonly app: string | null;
  /** Its JSON-line log (stderr) so far; read as the test goes, so the pipe never fills. */
  log(): string;
  /** SIGTERM; resolves to its exit code. */
  stop(): Promise<number | null>;
}

/** Runs `kith relay serve --port 0 --json ...args` until it prints its URL. */
export async function serveRelay(home: string, args: readonly string[], env: Record<string, string> = {}): Promise<ServedRelay> {
  const child = spawn(process.execPath, kithArgv(home, ['relay', 'serve', '--port', '0', ...args, '--json']), {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (log += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    void exited.then((code) => reject(new Error(`kith relay serve exited ${code}: ${log}`)));
  });
  const said = JSON.parse(line) as { url: string; app: string | null };
  return {
    url: said.url,
    app: said.app,
    log: () => log,
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** A `kith` process on a pseudo-terminal (see {@link onTerminal}). */
export interface TerminalRun {
  /** Everything the terminal showed so far: the process's stdout and stderr, and any echo of what was typed. */
  screen(): string;
  /** Resolves once the screen (after `from` characters) matches `re`; rejects if the process ends first. */
  waitFor(re: RegExp, from?: number): Promise<void>;
  /** Types `text` at the keyboard (use `\r` for Enter). */
  type(text: string): void;
  /** Resolves to the exit code once the process ended. */
  readonly exited: Promise<number | null>;
}

/**
 * Runs `kith --home HOME ...args` with a pseudo-terminal as its stdin,
 * stdout and stderr, through util-linux `script`; only `env` (plus PATH)
 * is its environment, so no KITH_* variable leaks in.
 */
export function onTerminal(home: string, args: readonly string[], env: Record<string, string> = {}): TerminalRun {
  const command = [process.execPath, ...kithArgv(home, args)].map((x) => `'${x.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], {
    env: { PATH: process.env['PATH'] ?? '', TERM: 'dumb', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let screen = '';
  const waiters = new Set<() => void>();
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    screen += d;
    for (const w of waiters) w();
  });
  child.stderr.resume();
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return {
    screen: () => screen,
    waitFor: (re, from = 0) =>
      new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (!re.test(screen.slice(from))) return;
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
        void exited.then(() => {
          check();
          if (waiters.delete(check)) reject(new Error(`kith exited before the terminal showed ${re}; it showed: ${JSON.stringify(screen)}`));
        });
      }),
    type: (text) => void child.stdin.write(text),
    exited,
  };
}
