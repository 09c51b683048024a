/**
 * restic, the peer of the blobs section: the tool people pick for
 * encrypted, chunked, deduplicated storage. Debian's package, installed by
 * bench/scripts/peers.sh when missing (as root), run with its defaults on
 * a local repository (restic packs chunks into files of ~16 MiB).
 * @module
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PEERS = fileURLToPath(new URL('../../scripts/peers.sh', import.meta.url));

const installed = (): boolean => spawnSync('restic', ['version'], { stdio: 'ignore' }).status === 0;

/** True once restic runs here, after installing it if missing (stderr says why not). */
export function ensureRestic(): boolean {
  if (installed()) return true;
  spawnSync('bash', [PEERS], { stdio: ['ignore', 'ignore', 'inherit'] });
  return installed();
}

/** Runs restic on `repo` with `args`; a failure throws with restic's last line. */
function restic(repo: string, env: NodeJS.ProcessEnv, ...args: string[]): void {
  const r = spawnSync('restic', ['--repo', repo, '--quiet', ...args], { env, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`restic ${args[0]} failed: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').at(-1)}`);
}

/**
 * `restic init` a repository in `base/restic` (untimed), `restic backup`
 * `file` into it and `restic restore` it into a new directory, each in
 * `timed`; returns their costs and the restored copy's path, or nothing
 * when restic is not installed and cannot be.
 */
export async function resticRoundTrip<C>(
  file: string,
  base: string,
  timed: (fn: () => Promise<void>) => Promise<C>,
): Promise<{ put: C; get: C; restored: string } | undefined> {
  if (!ensureRestic()) return undefined;
  const dir = join(base, 'restic');
  const repo = join(dir, 'repo');
  const target = join(dir, 'restored');
  mkdirSync(dir, { recursive: true });
  // The password is the bench's own throwaway one; the cache lives with the repository, so runs start cold alike.
  const env = { ...process.env, RESTIC_PASSWORD: 'kith-bench', RESTIC_CACHE_DIR: join(dir, 'cache') };
  restic(repo, env, 'init');
  const put = await timed(async () => restic(repo, env, 'backup', '--host', 'bench', file));
  const get = await timed(async () => restic(repo, env, 'restore', 'latest', '--target', target));
  // restore recreates the file's absolute path under the target.
  return { put, get, restored: join(target, file) };
}
