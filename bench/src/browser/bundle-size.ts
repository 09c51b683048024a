/**
 * Bundle size of a small web app on Kith (core + indexeddb + relay client)
 * beside the same app on Yjs + y-indexeddb + y-websocket: esbuild, minified,
 * ES modules with code splitting (so a dynamic import becomes its own chunk),
 * gzip level 9. Also says whether hash-wasm (Argon2) is in Kith's main chunk:
 * it should load only when a password is used.
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
}

/** Bundles the compiled entry `file` (a path beside this module) as a browser app would ship it. */
export async function bundleSize(file: string): Promise<BundleSize> {
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
  const main = size(atStart);
  const total = size(Object.keys(outputs).filter((k) => k.endsWith('.js')));
  const hashWasmInMain = [...atStart].some((k) => Object.keys(outputs[k]!.inputs).some((i) => i.includes('node_modules/hash-wasm/')));
  return {
    mainBytes: main.bytes,
    mainGzip: main.gzip,
    totalBytes: total.bytes,
    totalGzip: total.gzip,
    chunks: byName.size,
    hashWasmInMain,
  };
}
/** Both apps, and Kith's main chunk as a multiple of the Yjs app's whole bundle (gzip). */
export async function bundleSizes(): Promise<{ kith: BundleSize; yjs: BundleSize; ratio: number }> {
  const kith = await bundleSize('./app-kith.js');
  const yjs = await bundleSize('./app-yjs.js');
  return { kith, yjs, ratio: kith.mainGzip / yjs.totalGzip };
}
