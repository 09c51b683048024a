/**
 * What the workspace's packages put in their tarballs, as `npm pack` sees
 * it, and which packed modules each declared entry reaches: the facts the
 * packaging tests judge.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** The repository root. */
export const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** The fields of a package.json the tests read. */
export interface Manifest {
  readonly name: string;
  readonly private?: boolean;
  readonly main?: string;
  readonly bin?: string | Record<string, string>;
  readonly exports?: unknown;
  /** Browser bundlers' replacements: a module path → the one browsers get (or `false`: none). */
  readonly browser?: string | Record<string, string | false>;
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

/** A publishable workspace package. */
export interface WorkspacePackage {
  /** Absolute directory. */
  readonly dir: string;
  readonly manifest: Manifest;
}

/** Every workspace package under `packages/` that is not private, read from the root package.json (so new packages are covered as they are added). */
export function workspacePackages(): WorkspacePackage[] {
  const root = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { workspaces: string[] };
  return root.workspaces
    .filter((w) => w.startsWith('packages/'))
    .map((w) => ({ dir: join(REPO, w), manifest: JSON.parse(readFileSync(join(REPO, w, 'package.json'), 'utf8')) as Manifest }))
    .filter((p) => p.manifest.private !== true);
}

/**
 * The environment for a child npm: without the `npm_*` variables an
 * enclosing `npm test` sets (a `npm_config_prefix` or `local_prefix` would
 * point the child at this repository).
 */
export function npmEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));
}

/** Runs npm with `args` in `cwd`; resolves to its stdout. */
export async function npm(cwd: string, args: readonly string[], timeoutMs: number): Promise<string> {
  const { stdout } = await promisify(execFile)('npm', [...args], { cwd, env: npmEnv(), timeout: timeoutMs, maxBuffer: 64 << 20 });
  return stdout;
}

/** The paths (relative, `/`-separated) `npm pack` would put in the package's tarball. */
export async function packedFiles(dir: string): Promise<string[]> {
  const out = JSON.parse(await npm(dir, ['pack', '--dry-run', '--json', '--ignore-scripts'], 120_000)) as { files: { path: string }[] }[];
  return out[0]!.files.map((f) => f.path);
}

/** The module paths a package declares: `main`, `bin`, and every `exports` target, split by whether a `testing` subpath names it. */
export function entryPoints(m: Manifest): { shipped: string[]; testing: string[] } {
  const shipped: string[] = [];
  const testing: string[] = [];
  const add = (target: string, underTesting: boolean): void => void (underTesting ? testing : shipped).push(posix.normalize(target));
  if (m.main !== undefined) add(m.main, false);
  for (const bin of typeof m.bin === 'string' ? [m.bin] : Object.values(m.bin ?? {})) add(bin, false);
  const walk = (v: unknown, underTesting: boolean): void => {
    if (typeof v === 'string') add(v, underTesting);
    else if (v !== null && typeof v === 'object') for (const [k, w] of Object.entries(v)) walk(w, underTesting || /(^|\/)testing(\/|$)/.test(k));
  };
  walk(m.exports, false);
  // A module a bundler swaps in for browsers ships to apps as much as the one it replaces.
  for (const target of typeof m.browser === 'string' ? [m.browser] : Object.values(m.browser ?? {})) if (typeof target === 'string') add(target, false);
  return { shipped: shipped.filter(isModule), testing: testing.filter(isModule) };
}

const isModule = (p: string): boolean => /\.(c|m)?js$/.test(p);

/** Relative module paths a compiled file names: static and dynamic imports, worker URLs, any `'./x.js'` string. */
export function relativeRefs(source: string): string[] {
  return [...source.matchAll(/(['"`])(\.\.?\/[^'"`\s]+?\.(?:c|m)?js)\1/g)].map((m) => m[2]!);
}

/** Bare specifiers a compiled file imports (`from 'x'`, `import('x')`, `import 'x'`). */
export function bareImports(source: string): string[] {
  return [...source.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])([^'"./][^'"]*)\1/g)].map((m) => m[2]!);
}

/** The packed modules reachable from `entries` through relative references; names a reference to a module the tarball lacks in `missing`. */
export function reachable(dir: string, packed: ReadonlySet<string>, entries: readonly string[], missing: string[]): Set<string> {
  const seen = new Set<string>();
  const queue = [...entries];
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    if (seen.has(file)) continue;
    if (!packed.has(file)) {
      missing.push(file);
      continue;
    }
    seen.add(file);
    const source = readFileSync(join(dir, file), 'utf8');
    for (const ref of relativeRefs(source)) queue.push(posix.normalize(posix.join(posix.dirname(file), ref)));
  }
  return seen;
}
