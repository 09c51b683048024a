/**
 * @module tabs-page
 * Runs in each tab of the tabs test (bundled by the harness): one tab's
 * vault through `openTabVault`, a subscription that notes when each record
 * first showed up, and a log of this tab's leadership.
 */
import { Vault } from '@kith/core';
import { openRelayRemote } from '@kith/relay';
import { openIndexedDbStore, openTabVault, type TabVault } from '../index.js';

interface Note {
  readonly id: string;
  readonly tab: string;
  readonly at: number;
}

let tab: TabVault | undefined;
/** When this tab's subscription first listed each record (Date.now(), comparable across tabs of one machine). */
const seen = new Map<string, number>();
/** Latencies (ms) from another tab's write to this tab's subscription. */
const latencies: number[] = [];
/** This tab's leadership, as [leader, Date.now()]. */
const leaderLog: [boolean, number][] = [];
let me = '';

/**
 * IndexedDB transactions of this tab not yet complete or aborted. A tab
 * stopped inside one would block every other tab's writes to the store for
 * as long as it stays stopped (IndexedDB's rule, not Kith's), so the test
 * stops a tab only when this is 0, between tasks, as a browser freezes one.
 */
let openTransactions = 0;
const transaction = Reflect.get(IDBDatabase.prototype, 'transaction') as (this: IDBDatabase, ...a: Parameters<IDBDatabase['transaction']>) => IDBTransaction;
IDBDatabase.prototype.transaction = function (this: IDBDatabase, ...args: Parameters<IDBDatabase['transaction']>): IDBTransaction {
  const tx = transaction.apply(this, args);
  openTransactions++;
  let done = false;
  const end = (): void => {
    if (!done) openTransactions--;
    done = true;
  };
  tx.addEventListener('complete', end);
  tx.addEventListener('abort', end);
  return tx;
};

const page = {
  /** Makes this browser a device of the vault at `url` (the relay, through the page's origin). */
  async restore(name: string, url: string, recoveryCode: string): Promise<void> {
    const vault = await Vault.restore({
      store: await openIndexedDbStore(name),
      remote: openRelayRemote(url),
      remoteUrl: url,
      recoveryCode,
      deviceName: 'browser',
    });
    await vault.close();
  },

  async open(name: string, url: string, label: string): Promise<{ mode: string }> {
    me = label;
    tab = await openTabVault({ name, remote: async () => openRelayRemote(url), intervalMs: 2000 });
    tab.tabs.onLeaderChange((leader) => leaderLog.push([leader, Date.now()]));
    tab.vault.subscribe('notes', { limit: 10_000 }, (records) => {
      const now = Date.now();
      for (const r of records as unknown as Note[]) {
        if (seen.has(r.id)) continue;
        seen.set(r.id, now);
        if (r.tab !== me && r.tab.startsWith('tab')) latencies.push(now - r.at);
      }
    });
    return { mode: tab.tabs.mode };
  },

  /** Writes `count` notes one after the other; each is reported to Node (`kithAcked`) once its write resolved. */
  async write(prefix: string, count: number): Promise<string[]> {
    const acked: string[] = [];
    const report = (globalThis as { kithAcked?: (id: string) => Promise<void> }).kithAcked;
    for (let i = 0; i < count; i++) {
      const id = `${prefix}-${String(i).padStart(4, '0')}`;
      await tab!.vault.put('notes', id, { tab: me, at: Date.now() });
      acked.push(id);
      void report?.(id);
    }
    return acked;
  },

  /**
   * Stops this tab's JavaScript at a `debugger` statement (the test enabled
   * the DevTools debugger) in a task that holds no IndexedDB transaction;
   * returns once the test resumes it.
   */
  async stopWhenIdle(): Promise<void> {
    while (openTransactions > 0) await new Promise((r) => setTimeout(r, 0));
    // eslint-disable-next-line no-debugger -- the stop itself: nothing runs in this tab until the test resumes it
    debugger;
  },

  leader(): boolean {
    return tab?.tabs.leader ?? false;
  },

  async ids(): Promise<string[]> {
    return (await tab!.vault.list('notes', { limit: 10_000 })).records.map((r) => r.id);
  },

  /** Local writes not yet pushed (from the store, shared by all tabs). */
  async pending(): Promise<number> {
    return (await tab!.vault.status()).pending;
  },

  stats(): { latencies: number[]; leaderLog: [boolean, number][]; seen: string[] } {
    return { latencies, leaderLog, seen: [...seen.keys()] };
  },

  async close(): Promise<void> {
    await tab?.close();
    tab = undefined;
  },
};

(globalThis as unknown as { kithTabs: typeof page }).kithTabs = page;
export type TabsPage = typeof page;
