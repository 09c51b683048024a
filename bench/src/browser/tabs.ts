/**
 * Tabs of one device (openTabVault), driven through the page of
 * @kith/indexeddb's tabs test (testing/tabs-page.ts, bundled): three tabs
 * write at once, and each tab's subscription notes how long another tab's
 * write took to reach it (BroadcastChannel); then the leading tab is closed
 * a few times and the time until another tab leads is taken (Web Locks).
 * @module
 */
import { join } from 'node:path';
import { Vault } from '@kith/core';
import type { ChromiumProfile } from '@kith/indexeddb/testing';
import { openRelayRemote } from '@kith/relay';
import type { TestRelay } from '@kith/relay-server/testing';
import { openSqliteStore } from '@kith/sqlite';
import type { Page } from 'playwright-core';
import { percentile } from '../measure.js';
import { pageApi, waitFor } from './page-call.js';

/** What tabs-page.ts offers on `globalThis.kithTabs` (the part used here). */
type TabsPage = {
  restore(name: string, url: string, recoveryCode: string): Promise<void>;
  open(name: string, url: string, label: string): Promise<{ mode: string }>;
  write(prefix: string, count: number): Promise<string[]>;
  leader(): boolean;
  stats(): { latencies: number[]; leaderLog: [boolean, number][]; seen: string[] };
};

/** Cross-tab write → subscription latency and handover after the leading tab closes, ms. */
export interface TabFigures {
  readonly mode: string;
  readonly writes: number;
  readonly latencyP50: number;
  readonly latencyP99: number;
  readonly latencySamples: number;
  readonly handovers: readonly number[];
  readonly handoverMedian: number;
  readonly handoverMax: number;
}

const WRITES_PER_TAB = 100;
const HANDOVERS = 5;

const call = pageApi<TabsPage>('kithTabs');

/** The one leading tab, once exactly one leads. */
async function oneLeader(pages: readonly Page[]): Promise<Page> {
  let flags: boolean[] = [];
  await waitFor('exactly one leading tab', async () => {
    flags = await Promise.all(pages.map((p) => call(p, 'leader')));
    return flags.filter(Boolean).length === 1;
  });
  return pages[flags.indexOf(true)]!;
}

/** Runs the tabs measurement on a fresh vault (created by a Node device) on `relay`. */
export async function measureTabs(chromium: ChromiumProfile, relay: TestRelay, origin: string, dir: string, log: (line: string) => void): Promise<TabFigures> {
  const name = 'tabs';
  const url = `${relay.relay.url}/${name}`;
  const { vault, recoveryCode } = await Vault.create({ store: await openSqliteStore(join(dir, 'tabs.db')), remote: openRelayRemote(url), remoteUrl: url });
  await vault.close();
  let label = 0;
  let mode = 'unknown';
  const newTab = async (): Promise<Page> => {
    const page = await chromium.context.newPage();
    await page.goto(`${origin}/tabs.html`);
    await page.waitForFunction(() => 'kithTabs' in globalThis);
    ({ mode } = await call(page, 'open', name, url, `tab${label++}`));
    return page;
  };
  const first = await chromium.context.newPage();
  await first.goto(`${origin}/tabs.html`);
  await first.waitForFunction(() => 'kithTabs' in globalThis);
  await call(first, 'restore', name, url, recoveryCode);
  await first.close();
  let pages = [await newTab(), await newTab(), await newTab()];
  try {
    // Three tabs write at once; each waits for its write to resolve before the next (as an app's handler would).
    await Promise.all(pages.map((p, i) => call(p, 'write', `w${i}`, WRITES_PER_TAB)));
    const total = WRITES_PER_TAB * pages.length;
    for (const p of pages) await waitFor('every tab lists every write', async () => (await call(p, 'stats')).seen.length >= total);
    const latencies = (await Promise.all(pages.map(async (p) => (await call(p, 'stats')).latencies))).flat().sort((a, b) => a - b);

    const handovers: number[] = [];
    for (let i = 0; i < HANDOVERS; i++) {
      const leading = await oneLeader(pages);
      const closedAt = Date.now();
      await leading.close();
      pages = pages.filter((p) => p !== leading);
      const next = await oneLeader(pages);
      const took = (await call(next, 'stats')).leaderLog.filter(([lead]) => lead).at(-1)![1] - closedAt;
      handovers.push(Math.max(0, took));
      log(`  handover ${i + 1}: ${took} ms`);
      pages.push(await newTab());
    }
    const sorted = [...handovers].sort((a, b) => a - b);
    return {
      mode,
      writes: total,
      latencyP50: percentile(latencies, 0.5),
      latencyP99: percentile(latencies, 0.99),
      latencySamples: latencies.length,
      handovers,
      handoverMedian: sorted[sorted.length >> 1]!,
      handoverMax: sorted.at(-1)!,
    };
  } finally {
    for (const p of pages) if (!p.isClosed()) await p.close();
  }
}
