/**
 * The browser section's tables and targets.
 * @module
 */
import { ms, num } from '../report-format.js';
import type { BrowserResults } from './measure.js';

/** The target: the page's bootstrap within this many times the floor measured beside it. */
export const BROWSER_BOOTSTRAP_TARGET = 2;
/** The target: Kith's main chunk within this many times the Yjs app's bundle (gzip). */
export const BROWSER_BUNDLE_TARGET = 2;

const kib = (bytes: number): string => num(bytes / 1024, 1);

/** Markdown for the browser section; judges its targets through `judge`. */
export function browserTables(r: BrowserResults, judge: (target: string, met: boolean, detail: string) => void): string[] {
  const b = r.bootstrap;
  const t = r.tabs;
  // The bundle's targets are judged after the bootstrap's, in the order the tables show them.
  const bundleJudged: [string, boolean, string][] = [];
  const out = [
    '',
    `### Browser (headless Chromium): bootstrap of ${num(r.n)} records from the relay into IndexedDB (${r.runs} runs)`,
    '',
    '| bootstrap ms | of which restore | of which sync | IndexedDB transactions (readwrite) | IndexedDB requests | floor ms (one IndexedDB tx + decrypt/inflate/parse) | of which IndexedDB tx | of which decrypt + inflate + parse | bootstrap ÷ floor |',
    '|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    `| ${ms(b['bootstrapMs'])} | ${ms(b['restoreMs'])} | ${ms(b['syncMs'])} | ${num(b['idbTransactions'])} (${num(b['idbWriteTransactions'])}) | ${num(b['idbRequests'])} | ${ms(b['floorMs'])} | ${ms(b['insertMs'])} | ${ms(b['decryptMs'])} | ${num(b['ratio'], 2)} |`,
    ...bundleTables(r.bundle, (...a) => void bundleJudged.push(a)),
    '',
    `### Browser: three tabs of one device (openTabVault, ${t.mode})`,
    '',
    '| cross-tab write → subscription p50 ms | p99 ms | samples | handover after the leading tab closes, median ms | max ms | handovers |',
    '|--:|--:|--:|--:|--:|--:|',
    `| ${ms(t.latencyP50)} | ${ms(t.latencyP99)} | ${num(t.latencySamples)} | ${ms(t.handoverMedian)} | ${ms(t.handoverMax)} | ${t.handovers.length} |`,
  ];
  const ratioB = b['ratio'];
  if (ratioB !== undefined)
    judge(
      `browser: bootstrap within ${BROWSER_BOOTSTRAP_TARGET}× the floor`,
      ratioB <= BROWSER_BOOTSTRAP_TARGET,
      `${ms(b['bootstrapMs'])} ms vs floor ${ms(b['floorMs'])} ms (${num(ratioB, 2)}×)`,
    );
  for (const a of bundleJudged) judge(...a);
  return out;
}

/** Markdown for the bundle sizes (the browser section's, or a `--only bundle` run's); judges their targets through `judge`. */
export function bundleTables(bundle: BrowserResults['bundle'], judge: (target: string, met: boolean, detail: string) => void): string[] {
  const { kith, yjs, ratio } = bundle;
  judge(
    `browser: bundle (main chunk, gzip) within ${BROWSER_BUNDLE_TARGET}× Yjs + y-indexeddb + y-websocket`,
    ratio <= BROWSER_BUNDLE_TARGET,
    `${kib(kith.mainGzip)} KiB vs ${kib(yjs.totalGzip)} KiB (${num(ratio, 2)}×)`,
  );
  judge(
    'browser: Argon2 (hash-wasm) loads only when a password is used',
    !kith.hashWasmInMain,
    kith.hashWasmInMain ? 'in the main chunk' : 'in a chunk of its own',
  );
  return [
    '',
    '### Browser: bundle of a small app (esbuild, minified, code splitting, gzip -9)',
    '',
    '| app | main chunk KiB | main gzip KiB | all chunks KiB | all gzip KiB | chunks | hash-wasm in main |',
    '|---|--:|--:|--:|--:|--:|---|',
    `| Kith (core + indexeddb + relay client) | ${kib(kith.mainBytes)} | ${kib(kith.mainGzip)} | ${kib(kith.totalBytes)} | ${kib(kith.totalGzip)} | ${kith.chunks} | ${kith.hashWasmInMain ? 'yes' : 'no'} |`,
    `| Yjs + y-indexeddb + y-websocket | ${kib(yjs.mainBytes)} | ${kib(yjs.mainGzip)} | ${kib(yjs.totalBytes)} | ${kib(yjs.totalGzip)} | ${yjs.chunks} | – |`,
    '',
    `Kith's main chunks by package (minified): ${Object.entries(kith.mainByPackage)
      .map(([p, n]) => `${p} ${kib(n)} KiB`)
      .join(', ')}.`,
  ];
}
