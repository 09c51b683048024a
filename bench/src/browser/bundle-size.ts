/**
 * Bundle size of a small web app on Kith (core + indexeddb + relay client)
 * beside the same app on Yjs + y-indexeddb + y-websocket: esbuild, minified,
 * ES modules with code splitting (so a dynamic import becomes its own chunk),
 * gzip level 9. Also says what is in Kith's main chunk (bytes per package and
 * per module, from esbuild's metafile) and whether hash-wasm (Argon2) is: it
 * should load only when a password is used.
 *
 * `node bench/dist/browser/bundle-size.js` prints the breakdown of the Kith app's main chunk.
 * @module
 */
import { basename } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** One app's bundle: the entry chunk and every chunk, raw and gzipped bytes. */
export interface BundleSize {
  /** The entry chunk and the chunks it imports statically: what a page load fetches. */
  readonly mainBytes: number;
  readonly mainGzip: number;
  readonly totalBytes: number;
  readonly totalGzip: number;
  readonly chunks: number;
  /** Whether any hash-wasm module is in what a page load fetches. */
  readonly hashWasmInMain: boolean;
  /** Minified bytes of the main chunks by package (`@kith/core`, `@noble/hashes`, …), largest first. */
  readonly mainByPackage: Readonly<Record<string, number>>;
}

/** Which modules (paths relative to the repository, as esbuild names them) went where, with their minified bytes. */
export interface BundleModules {
  /** Modules with code in the main chunks. */
  readonly main: ReadonlyMap<string, number>;
  /** Modules with code only in chunks a dynamic `import()` fetches. */
  readonly lazy: ReadonlyMap<string, number>;
}

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** The package a module belongs to: `@kith/<folder>` for the workspace's own, else its node_modules name. */
export function packageOf(module: string): string {
  const dep = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(module);
  if (dep) return dep[1]!;
  const own = /^packages\/([^/]+)\//.exec(module);
  return own ? `@kith/${own[1]}` : module;
}

/** Bundles the compiled entry `file` (a path beside this module) as a browser app would ship it. */
export async function bundleApp(file: string): Promise<{ size: BundleSize; modules: BundleModules }> {
  const entry = fileURLToPath(new URL(file, import.meta.url));
  const out = await build({
    entryPoints: [entry],
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    outdir: '/kith-bundle',
    metafile: true,
    logLevel: 'silent',
    absWorkingDir: root,
  });
  const outputs = out.metafile.outputs;
  const byName = new Map(out.outputFiles.filter((f) => f.path.endsWith('.js')).map((f) => [basename(f.path), f.contents]));
  // What a page load fetches: the entry chunk and every chunk it imports statically; dynamic imports wait for their use.
  const entryKey = Object.keys(outputs).find((k) => outputs[k]!.entryPoint?.endsWith(basename(entry)) === true);
  if (entryKey === undefined) throw new Error(`esbuild made no chunk for ${entry}`);
  const atStart = new Set<string>();
  for (const todo = [entryKey]; todo.length > 0;) {
    const k = todo.pop()!;
    if (atStart.has(k)) continue;
    atStart.add(k);
    for (const i of outputs[k]!.imports) if (i.kind === 'import-statement' && i.path in outputs) todo.push(i.path);
  }
  const size = (keys: Iterable<string>): { bytes: number; gzip: number } => {
    let bytes = 0;
    let gzip = 0;
    for (const k of keys) {
      const c = byName.get(basename(k));
      if (c === undefined) continue;
      bytes += c.byteLength;
      gzip += gzipSync(c, { level: 9 }).byteLength;
    }
    return { bytes, gzip };
  };
  const chunkKeys = Object.keys(outputs).filter((k) => k.endsWith('.js'));
  // A module's code sits in one chunk; one with no bytes in any (types only, or shaken out) is in neither list.
  const placed = (keys: string[]): Map<string, number> => {
    const m = new Map<string, number>();
    for (const k of keys)
      for (const [input, { bytesInOutput }] of Object.entries(outputs[k]!.inputs)) if (bytesInOutput > 0) m.set(input, (m.get(input) ?? 0) + bytesInOutput);
    return m;
  };
  const main = placed([...atStart]);
  const lazy = placed(chunkKeys.filter((k) => !atStart.has(k)));
  for (const m of main.keys()) lazy.delete(m);
  const byPackage = new Map<string, number>();
  for (const [m, bytes] of main) byPackage.set(packageOf(m), (byPackage.get(packageOf(m)) ?? 0) + bytes);
  const mainSize = size(atStart);
  const total = size(chunkKeys);
  return {
    size: {
      mainBytes: mainSize.bytes,
      mainGzip: mainSize.gzip,
      totalBytes: total.bytes,
      totalGzip: total.gzip,
      chunks: byName.size,
      hashWasmInMain: [...main.keys()].some((m) => m.includes('node_modules/hash-wasm/')),
      mainByPackage: Object.fromEntries([...byPackage].sort((a, b) => b[1] - a[1])),
    },
    modules: { main, lazy },
  };
}

/** Bundles the compiled entry `file` and returns its sizes. */
export async function bundleSize(file: string): Promise<BundleSize> {
  return (await bundleApp(file)).size;
}

/** Both apps, and Kith's main chunk as a multiple of the Yjs app's whole bundle (gzip). */
export async function bundleSizes(): Promise<{ kith: BundleSize; yjs: BundleSize; ratio: number }> {
  const kith = await bundleSize('./app-kith.js');
  const yjs = await bundleSize('./app-yjs.js');
  return { kith, yjs, ratio: kith.mainGzip / yjs.totalGzip };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { size, modules } = await bundleApp('./app-kith.js');
  const kib = (n: number): string => (n / 1024).toFixed(1);
  process.stdout.write(`Kith app, main chunks: ${kib(size.mainBytes)} KiB minified, ${kib(size.mainGzip)} KiB gzip -9\n\nby package (minified bytes):\n`);
  for (const [p, n] of Object.entries(size.mainByPackage)) process.stdout.write(`${String(n).padStart(8)}  ${p}\n`);
  process.stdout.write('\nby module (minified bytes):\n');
  for (const [m, n] of [...modules.main].sort((a, b) => b[1] - a[1])) process.stdout.write(`${String(n).padStart(8)}  ${m}\n`);
  process.stdout.write('\nloaded on demand (minified bytes):\n');
  for (const [m, n] of [...modules.lazy].sort((a, b) => b[1] - a[1])) process.stdout.write(`${String(n).padStart(8)}  ${m}\n`);
}
