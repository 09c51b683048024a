/**
 * @module testing/postgres-process
 * A real, throwaway PostgreSQL server for tests: the distribution's own
 * binaries (Debian's `postgresql` package), a cluster made once by `initdb`
 * into a cached template directory and copied per run, its own free port
 * and socket directory, `fsync=off`. `initdb` and `postgres` refuse to run
 * as root, so as root they run as the `postgres` user on directories it
 * owns. The server lives in a runner child process (postgres-runner.ts)
 * that shuts it down and removes its directory when the test process ends,
 * however it ends.
 */
import { execFile, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

/** A PostgreSQL server started by {@link startPostgres}. */
export interface PostgresProcess {
  /** `postgres://postgres@127.0.0.1:PORT/postgres` (trust authentication on loopback). */
  readonly url: string;
  readonly port: number;
  /** Creates a database (a fresh name unless given) and returns its URL. */
  database(name?: string): Promise<string>;
  /**
   * Fast shutdown (every client is disconnected) or, with `kill9`, SIGKILL
   * of the postmaster; `downMs` of downtime, then the same cluster on the
   * same port again (after a kill, once crash recovery is done).
   */
  restart(downMs?: number, how?: 'fast' | 'kill9'): Promise<void>;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

interface Ids {
  readonly uid: number;
  readonly gid: number;
}

const RUNNER = fileURLToPath(new URL('./postgres-runner.js', import.meta.url));
let databases = 0;

/**
 * Where the server binaries are: `KITH_PG_BIN`, else the newest
 * `/usr/lib/postgresql/<major>/bin` that has `initdb` and `postgres`.
 * Throws a one-line error naming the package to install when none is.
 */
export function findPostgresBin(): string {
  const fromEnv = process.env['KITH_PG_BIN'];
  const candidates = fromEnv
    ? [fromEnv]
    : (existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql') : [])
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
        .map((v) => `/usr/lib/postgresql/${v}/bin`);
  const bin = candidates.find((d) => existsSync(join(d, 'initdb')) && existsSync(join(d, 'postgres')));
  if (!bin) {
    throw new Error(
      `PostgreSQL server binaries not found (${fromEnv ? `KITH_PG_BIN=${fromEnv}` : 'looked in /usr/lib/postgresql/*/bin'}): install them with \`apt-get install -y postgresql\` (Debian), or set KITH_PG_BIN to the directory holding initdb and postgres`,
    );
  }
  return bin;
}

/** As root: the `postgres` user's ids (initdb and postgres refuse root). Otherwise: run as ourselves. */
function serverUser(): Ids | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) {
    throw new Error('running as root, PostgreSQL needs the "postgres" user (the Debian package postgresql creates it)');
  }
  return { uid: Number(uid), gid: Number(gid) };
}

/** Runs a program (as `ids` when given) and rejects with its stderr on failure. */
function run(file: string, args: readonly string[], ids: Ids | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { ...(ids ?? {}), cwd: '/' }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`${basename(file)} failed: ${String(stderr).trim() || err.message}`));
      else resolve();
    });
  });
}

/** The initdb'd template cluster for `bin`, made once per machine and user and reused by every run. */
async function template(bin: string, ids: Ids | undefined): Promise<string> {
  const dir = join(tmpdir(), `kith-pg-template-${basename(dirname(bin))}-${ids?.uid ?? process.getuid?.() ?? 0}`);
  if (existsSync(join(dir, 'PG_VERSION'))) return dir;
  // Made aside and renamed into place, so a rival test process never sees half a cluster.
  const aside = `${dir}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  await run(join(bin, 'initdb'), ['-D', aside, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'], ids);
  try {
    renameSync(aside, dir);
  } catch {
    rmSync(aside, { recursive: true, force: true }); // a rival got there first: use theirs
  }
  return dir;
}

/** A TCP port on 127.0.0.1 that was free a moment ago (for a server that must be told its port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts a throwaway PostgreSQL server on 127.0.0.1 and resolves once it
 * accepts connections (about 0.3 s after the first run on a machine, which
 * also runs initdb, about 1.5 s).
 *
 * @example
 * `crashSafe` keeps synchronous commits, so a commit survives a SIGKILL of
 * the server (not a power cut: fsync stays off); the default loses the
 * last commits on a kill, which plain tests never do.
 *
 * const pgServer = await startPostgres();
 * const url = await pgServer.database(); // postgres://postgres@127.0.0.1:PORT/kith_test_...
 * // ... use it ...
 * await pgServer.stop();
 */
export async function startPostgres(o: { readonly crashSafe?: boolean } = {}): Promise<PostgresProcess> {
  const bin = findPostgresBin();
  const ids = serverUser();
  const source = await template(bin, ids);
  const runDir = mkdtempSync(join(tmpdir(), 'kith-pg-'));
  let port: number;
  try {
    if (ids) chownSync(runDir, ids.uid, ids.gid);
    await run('cp', ['-a', source, join(runDir, 'data')], ids);
    port = await freePort();
  } catch (e) {
    rmSync(runDir, { recursive: true, force: true });
    throw e;
  }
  const child = spawn(process.execPath, [RUNNER, JSON.stringify({ bin, runDir, port, ...(ids ?? {}), ...(o.crashSafe ? { crashSafe: true } : {}) })], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const messages: { ready?: true; stopped?: true; failed?: string }[] = [];
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout }).on('line', (line) => {
    messages.push(JSON.parse(line) as (typeof messages)[number]);
    for (const w of waiters) w();
  });
  /** Resolves on the next `ready` (or `stopped`) message; rejects on `failed` or after 20 s. */
  const next = (want: 'ready' | 'stopped'): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`PostgreSQL did not report ${want} within 20 s`)), 20_000);
      const check = (): void => {
        const msg = messages.shift();
        if (!msg) return;
        if (msg.failed) done(new Error(msg.failed));
        else if (msg[want]) done();
      };
      const done = (e?: Error): void => {
        clearTimeout(timer);
        waiters.delete(check);
        if (e) reject(e);
        else resolve();
      };
      waiters.add(check);
      void exited.then(() => done(new Error('the PostgreSQL runner exited')));
      check();
    });
  const stop = async (): Promise<void> => {
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    rmSync(runDir, { recursive: true, force: true });
  };
  try {
    await next('ready');
  } catch (e) {
    await stop();
    throw e;
  }
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    url,
    port,
    async database(name = `kith_test_${process.pid}_${++databases}`) {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      } finally {
        await c.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${encodeURIComponent(name)}`;
    },
    async restart(downMs = 0, how = 'fast') {
      const stopped = next('stopped');
      child.stdin.write(how === 'kill9' ? 'kill\n' : 'stop\n');
      await stopped;
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      // After a SIGKILL, a backend still exiting holds the old shared memory for a moment: start again until it lets go.
      for (let attempt = 1; ; attempt++) {
        const ready = next('ready');
        child.stdin.write('start\n');
        try {
          await ready;
          return;
        } catch (e) {
          if (how !== 'kill9' || attempt >= 10) throw e;
          await new Promise((r) => setTimeout(r, 300));
        }
      }
    },
    stop,
  };
}
