/**
 * The browser section (`--only browser`, opt-in: it needs Chromium): in
 * Debian's headless Chromium through the harness of @kith/indexeddb/testing,
 * a Node device fills a vault on a relay (startTestRelay, CORS allowed for the
 * page's origin) and the page bootstraps it into IndexedDB, beside the floor
 * measured in the same page; then the bundle sizes; then three tabs of one
 * device (openTabVault): cross-tab write latency and leader handover.
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Vault } from '@kith/core';
import { bundleForBrowser, launchChromium, pageWithScript, serveStatic, type ChromiumProfile } from '@kith/indexeddb/testing';
import { openRelayRemote } from '@kith/relay';
import { startTestRelay, type TestRelay } from '@kith/relay-server/testing';
import { openSqliteStore } from '@kith/sqlite';
import { fields, records } from '../data.js';
import { median, type Figures } from '../measure.js';
import { num } from '../report-format.js';
import { bundleSizes, type BundleSize } from './bundle-size.js';
import type { BenchPage, BootstrapFigures, FetchProfile, TxProfile } from './page.js';
import { cpuProfiled, type CpuEntry } from './cpu-profile.js';
import { pageApi } from './page-call.js';
import { measureTabs, type TabFigures } from './tabs.js';

/** What the section measured. */
export interface BrowserResults {
  readonly n: number;
  readonly runs: number;
  /** Medians: bootstrapMs (restoreMs + syncMs + the query), decryptMs, insertMs, floorMs, ratio (bootstrap / floor, each run's own), idbTransactions. */
  readonly bootstrap: Figures;
  readonly samples: readonly Figures[];
  /** The IndexedDB transactions of one more bootstrap (untimed, counting requests), in order: phase, mode, requests by kind, ms. */
  readonly transactions: readonly TxProfile[];
  /** The relay client's fetches in that bootstrap. */
  readonly fetches: readonly FetchProfile[];
  /** With KITH_BENCH_CPU_PROFILE: the functions with the most self time in that bootstrap. */
  readonly cpuProfile?: readonly CpuEntry[];
  readonly bundle: { readonly kith: BundleSize; readonly yjs: BundleSize; readonly ratio: number };
  readonly tabs: TabFigures;
}

const WARM_N = 100;

const call = pageApi<BenchPage>('kithBench');

/** A vault of `n` benchmark records on the relay, pushed by a Node device; its recovery code. */
async function fill(relay: TestRelay, name: string, n: number, dir: string): Promise<{ url: string; recoveryCode: string }> {
  const url = `${relay.relay.url}/${name}`;
  const { vault, recoveryCode } = await Vault.create({
    store: await openSqliteStore(join(dir, `${name}.db`)),
    remote: openRelayRemote(url),
    remoteUrl: url,
    deviceName: 'node',
  });
  try {
    const recs = records(n);
    await vault.batch((b) => recs.forEach((r) => b.put('notes', r.id, { ...fields(r) })));
    await vault.push();
    return { url, recoveryCode };
  } finally {
    await vault.close();
  }
}

/** A transaction of the profile: `sync readwrite 812 ms (commit 31 ms): get 10000, put 10000`. */
function describeTx(t: TxProfile): string {
  const requests = Object.entries(t.requests).map(([k, v]) => `${k} ${v}`);
  const commit = t.commitMs > 0 ? ` (commit ${t.commitMs.toFixed(0)} ms)` : '';
  return `${t.mode} ${t.ms.toFixed(0)} ms${commit}: ${requests.length > 0 ? requests.join(', ') : 'no requests'}`;
}

/** The profiled bootstrap's transactions and fetches in the order they began: `+   812 ms  sync   readwrite …`. */
export function timeline(p: BootstrapFigures): string[] {
  const events = [
    ...p.transactions.map((t) => ({ at: t.at, phase: t.phase, text: describeTx(t) })),
    ...p.fetches.map((f) => ({ at: f.at, phase: f.phase, text: `fetch ${f.what} ${f.ms.toFixed(0)} ms` })),
  ].sort((a, b) => a.at - b.at);
  return events.map((e) => `+${e.at.toFixed(0).padStart(5)} ms  ${e.phase.padEnd(7)} ${e.text}`);
}

/** Runs the whole section: `n` records, `runs` bootstraps (each after a warm-up on a small vault). */
export async function measureBrowser(n: number, runs: number, log: (line: string) => void): Promise<BrowserResults> {
  const dir = mkdtempSync(join(tmpdir(), 'kith-bench-browser-'));
  const here = (f: string): string => fileURLToPath(new URL(f, import.meta.url));
  const benchScript = await bundleForBrowser(here('./page.js'));
  const tabsScript = await bundleForBrowser(here('../../../packages/indexeddb/dist/testing/tabs-page.js'));
  const tabsFiles = pageWithScript(tabsScript);
  const site = await serveStatic({
    ...pageWithScript(benchScript),
    '/tabs.html': tabsFiles['/index.html']!.replace('/app.js', '/tabs.js'),
    '/tabs.js': tabsFiles['/app.js']!,
  });
  let relay: TestRelay | undefined;
  let chromium: ChromiumProfile | undefined;
  try {
    relay = await startTestRelay({ allowOrigins: [site.origin] });
    log(`  filling ${n.toLocaleString('en-US')} records on the relay`);
    const warm = await fill(relay, 'warm', WARM_N, dir);
    const full = await fill(relay, 'full', n, dir);
    chromium = await launchChromium();
    const samples: Figures[] = [];
    for (let i = 0; i < runs; i++) {
      // A fresh tab per run, warmed up on the small vault first (JIT, WebCrypto, IndexedDB).
      const page = await chromium.context.newPage();
      await page.goto(`${site.origin}/`);
      await page.waitForFunction(() => 'kithBench' in globalThis);
      await call(page, 'floor', WARM_N, `warm-floor-${i}`);
      await call(page, 'bootstrap', warm.url, warm.recoveryCode, `warm-${i}`);
      const floor = await call(page, 'floor', n, `floor-${i}`);
      const boot = await call(page, 'bootstrap', full.url, full.recoveryCode, `boot-${i}`);
      if (boot.listed === 0) throw new Error('the page bootstrapped, but its query found nothing');
      await page.close();
      const floorMs = floor.decryptMs + floor.insertMs;
      const { listed: _listed, transactions: _transactions, fetches: _fetches, idbRequests: _requests, ...timed } = boot;
      const s = { ...floor, floorMs, ...timed, ratio: boot.bootstrapMs / floorMs };
      log(`  run ${i + 1}: bootstrap ${s.bootstrapMs.toFixed(0)} ms, floor ${floorMs.toFixed(0)} ms (${s.ratio.toFixed(2)}×)`);
      samples.push(s);
    }
    const bootstrap: Figures = {};
    for (const k of Object.keys(samples[0]!)) bootstrap[k] = median(samples.map((s) => s[k]!));
    // One more bootstrap, untimed, counting every request (and under the CPU profiler if asked).
    const cpuFile = process.env['KITH_BENCH_CPU_PROFILE'];
    log(`  one more bootstrap, counting IndexedDB requests${cpuFile ? ` under the CPU profiler (${cpuFile})` : ''}`);
    const page = await chromium.context.newPage();
    await page.goto(`${site.origin}/`);
    await page.waitForFunction(() => 'kithBench' in globalThis);
    await call(page, 'bootstrap', warm.url, warm.recoveryCode, 'warm-profiled', true);
    const profiled = (): Promise<BootstrapFigures> => call(page, 'bootstrap', full.url, full.recoveryCode, 'profiled', true);
    let cpuProfile: CpuEntry[] | undefined;
    let profile: BootstrapFigures;
    if (cpuFile) [profile, cpuProfile] = await cpuProfiled(page, cpuFile, profiled);
    else profile = await profiled();
    await page.close();
    const { transactions, fetches } = profile;
    log(
      `    ${num(profile.idbRequests)} requests in ${transactions.length} transactions, ${fetches.length} fetches, bootstrap ${profile.bootstrapMs.toFixed(0)} ms:`,
    );
    for (const line of timeline(profile)) log(`    ${line}`);
    for (const e of cpuProfile ?? []) log(`    ${e.selfMs.toFixed(0).padStart(6)} ms  ${e.name}`);
    bootstrap['idbRequests'] = profile.idbRequests;
    log('  bundle sizes');
    const bundle = await bundleSizes();
    log('  three tabs');
    const tabs = await measureTabs(chromium, relay, site.origin, dir, log);
    return { n, runs, bootstrap, samples, transactions, fetches, ...(cpuProfile ? { cpuProfile } : {}), bundle, tabs };
  } finally {
    await chromium?.dispose();
    await relay?.stop();
    await site.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
