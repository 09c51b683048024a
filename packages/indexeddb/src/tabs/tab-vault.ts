/**
 * @module tabs/tab-vault
 * A vault opened in several tabs of one origin at once: every tab reads and
 * writes its own connection to the same IndexedDB store, exactly one tab
 * (the leader, see tabs/leadership) syncs, and a BroadcastChannel tells the
 * other tabs of every change so their subscriptions re-read.
 *
 * Nothing but notices crosses tabs: records and the outbox live in the
 * store, and a write resolves only once its transaction is on disk
 * (`durability: 'strict'`), so a write one tab acknowledged is pushed by
 * whichever tab leads next, even if the writing tab closed right after.
 */
import { Vault, type VaultEvents, type VaultOptions } from '@kith/core';

type AutoSync = ReturnType<Vault['startAutoSync']>;
import { openIndexedDbStore } from '../idb-store.js';
import { electLeader, type Leadership } from './leadership.js';

/** What a change notice carries between tabs. */
interface ChangeNotice {
  readonly kind: 'change';
  readonly collections: readonly string[];
  readonly source: 'local' | 'remote';
}

export interface TabCoordinatorOptions {
  /** Auto-sync interval of the leading tab (ms; default 30 s); it also syncs soon after writes and on remote pushes. */
  readonly intervalMs?: number;
  /**
   * The store's collections (`store.read((tx) => tx.listCollections())`):
   * after this tab was frozen or hung, notices sent meanwhile may be lost,
   * so it tells its subscriptions that every collection changed.
   * `openTabVault` passes it.
   */
  readonly listCollections?: () => Promise<string[]>;
}

/** A gap this long between two ticks means this tab slept (frozen, paused, or throttled hard). */
const SLEPT_MS = 2000;
const TICK_MS = 500;

/** Default auto-sync interval of the leading tab. */
const DEFAULT_INTERVAL_MS = 30_000;

/**
 * Makes one tab's vault cooperate with the other tabs on the same store
 * `name`: relays changes both ways and runs auto-sync while this tab leads.
 */
export class TabCoordinator {
  readonly #vault: Vault;
  readonly #channel: BroadcastChannel;
  readonly #leadership: Leadership;
  readonly #offChange: () => void;
  readonly #listeners = new Set<(leader: boolean) => void>();
  readonly #intervalMs: number;
  #autoSync: AutoSync | undefined;
  // Starts and stops of auto-sync, one after the other (leadership can flip while a stop waits for a round).
  #turn: Promise<void> = Promise.resolve();
  // Set while a notice from another tab is emitted here, so it is not echoed back.
  #relaying = false;
  readonly #offWake: () => void;
  readonly #catchUp: () => void;

  constructor(vault: Vault, name: string, o: TabCoordinatorOptions = {}) {
    this.#vault = vault;
    this.#intervalMs = o.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.#channel = new BroadcastChannel(`kith-tabs-changes/${name}`);
    this.#channel.onmessage = (m: MessageEvent<ChangeNotice>) => this.#heard(m.data);
    this.#offChange = vault.on('change', (e) => this.#tell(e));
    this.#leadership = electLeader(`kith-tabs/${name}`, (leader) => this.#lead(leader));
    this.#catchUp = o.listCollections ? () => this.#caughtUp(o.listCollections!) : () => undefined;
    this.#offWake = onWake(this.#catchUp);
  }

  /** Whether this tab syncs now. */
  get leader(): boolean {
    return this.#leadership.leader;
  }

  /** How leadership is decided here: `'locks'` (Web Locks) or `'lease'` (the IndexedDB fallback). */
  get mode(): 'locks' | 'lease' {
    return this.#leadership.mode;
  }

  /** Calls `fn` whenever this tab starts or stops leading; returns a function that stops listening. */
  onLeaderChange(fn: (leader: boolean) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Stops leading (another tab takes over) and relaying; the vault stays open. */
  async close(): Promise<void> {
    await this.#leadership.close();
    this.#offWake();
    this.#offChange();
    this.#channel.close();
    await this.#turn;
  }

  #tell(e: VaultEvents['change']): void {
    if (this.#relaying) return;
    this.#channel.postMessage({ kind: 'change', collections: [...e.collections], source: e.source } satisfies ChangeNotice);
  }

  #heard(n: ChangeNotice): void {
    if (n?.kind !== 'change' || !Array.isArray(n.collections)) return;
    this.#relaying = true;
    try {
      this.#vault.changedElsewhere({ collections: n.collections, source: n.source === 'local' ? 'local' : 'remote' });
    } finally {
      this.#relaying = false;
    }
  }

  /** After a sleep: every collection may have changed meanwhile (and, for the leader, unpushed writes may wait). */
  #caughtUp(list: () => Promise<string[]>): void {
    list().then(
      (collections) => {
        if (collections.length > 0) this.#heard({ kind: 'change', collections, source: 'local' });
      },
      () => undefined, // the store closed or failed: the next wake or notice tries again
    );
  }

  #lead(leader: boolean): void {
    // A change of leader may follow a sleep of this tab (its lock stolen, its lease lapsed) too short for the tick to see.
    this.#catchUp();
    this.#turn = this.#turn.then(async () => {
      if (leader && !this.#autoSync) {
        // Its first round pushes whatever the outbox holds, other tabs' writes and the last leader's unpushed ones included.
        this.#autoSync = this.#vault.startAutoSync({ intervalMs: this.#intervalMs });
      } else if (!leader && this.#autoSync) {
        const stopping = this.#autoSync;
        this.#autoSync = undefined;
        await stopping.stop();
      }
    });
    for (const fn of this.#listeners) {
      try {
        fn(leader);
      } catch {
        // A listener's failure must not stop leadership changing.
      }
    }
  }
}

/** Calls `wake` when the page resumes after a freeze or the back/forward cache, or its timers show it slept. */
function onWake(wake: () => void): () => void {
  let last = Date.now();
  const tick = setInterval(() => {
    const now = Date.now();
    if (now - last > SLEPT_MS) wake();
    last = now;
  }, TICK_MS);
  const shown = (e: Event): void => {
    if (e.type === 'resume' || (e as PageTransitionEvent).persisted) wake();
  };
  const hasDocument = typeof document !== 'undefined';
  if (hasDocument) document.addEventListener('resume', shown);
  if (hasDocument) addEventListener('pageshow', shown);
  return () => {
    clearInterval(tick);
    if (hasDocument) document.removeEventListener('resume', shown);
    if (hasDocument) removeEventListener('pageshow', shown);
  };
}

export interface TabVaultOptions extends Omit<VaultOptions, 'store'>, Omit<TabCoordinatorOptions, 'listCollections'> {
  /** The store's name (`openIndexedDbStore(name)`): the same name in every tab is the same device. */
  readonly name: string;
}

/** A vault of this tab and the coordinator that makes it cooperate with the other tabs. */
export interface TabVault {
  readonly vault: Vault;
  readonly tabs: TabCoordinator;
  /** Stops cooperating and closes the vault. */
  close(): Promise<void>;
}

/**
 * Opens the vault held by the IndexedDB store `name` (created or restored
 * before, in any tab) for this tab: reads, writes and subscriptions as usual
 * (other tabs' writes reach the subscriptions too); don't start auto-sync
 * yourself: the leading tab runs it.
 *
 * @example
 * const { vault, tabs } = await openTabVault({ name: 'journal', remote: async () => openRelayRemote(url) });
 * vault.subscribe('notes', {}, render); // sees every tab's writes
 */
export async function openTabVault(o: TabVaultOptions): Promise<TabVault> {
  const { name, intervalMs, ...vaultOptions } = o;
  const store = await openIndexedDbStore(name);
  let vault: Vault;
  try {
    vault = await Vault.open({ ...vaultOptions, store });
  } catch (e) {
    await store.close();
    throw e;
  }
  const tabs = new TabCoordinator(vault, name, {
    ...(intervalMs !== undefined ? { intervalMs } : {}),
    listCollections: () => store.read((tx) => tx.listCollections()),
  });
  return {
    vault,
    tabs,
    close: async () => {
      await tabs.close();
      await vault.close();
    },
  };
}
