/**
 * @module tabs/leadership
 * Which tab of an origin is the leader (the one that syncs): the holder of
 * a Web Lock held for the tab's life, or, where `navigator.locks` is
 * missing (some Android WebViews, older Safari), the holder of a lease
 * record in IndexedDB renewed by heartbeat.
 *
 * A frozen tab runs no code, so it gives leadership up on the Page
 * Lifecycle `freeze` event (and on `pagehide` into the back/forward cache)
 * and asks again on `resume`/`pageshow`. Two leaders overlapping for a
 * moment (a lease that lapsed under a throttled timer) cost a duplicate
 * sync, not data: pushes are coordinated through the store (sync/push).
 */

/** The leadership of one tab; `onChange` is called with every change (true: this tab leads now). */
export interface Leadership {
  readonly leader: boolean;
  /** `'locks'` (Web Locks) or `'lease'` (the IndexedDB fallback). */
  readonly mode: 'locks' | 'lease';
  /** Gives leadership up (if held) and stops asking. */
  close(): Promise<void>;
}

/** A lease lapses this long after its last renewal: another tab takes over within it. */
export const LEASE_MS = 900;
/** The leader renews (and followers look) this often. */
export const HEARTBEAT_MS = 250;

/** Leadership of `name` among the tabs of this origin: Web Locks where present, else the lease. */
export function electLeader(name: string, onChange: (leader: boolean) => void): Leadership {
  // Checked at each call: a WebView may lack it, and tests delete it.
  const hasLocks = typeof navigator !== 'undefined' && 'locks' in navigator && navigator.locks !== undefined;
  return hasLocks ? lockLeadership(navigator.locks, name, onChange) : leaseLeadership(name, onChange);
}

/** Calls `off` when the page freezes or goes into the back/forward cache, `on` when it comes back. */
function onLifecycle(off: () => void, on: () => void): () => void {
  if (typeof document === 'undefined') return () => undefined;
  const hide = (e: Event): void => {
    if (e.type === 'freeze' || (e as PageTransitionEvent).persisted) off();
  };
  const show = (e: Event): void => {
    if (e.type === 'resume' || (e as PageTransitionEvent).persisted) on();
  };
  document.addEventListener('freeze', hide);
  document.addEventListener('resume', show);
  addEventListener('pagehide', hide);
  addEventListener('pageshow', show);
  return () => {
    document.removeEventListener('freeze', hide);
    document.removeEventListener('resume', show);
    removeEventListener('pagehide', hide);
    removeEventListener('pageshow', show);
  };
}

function lockLeadership(locks: LockManager, name: string, onChange: (leader: boolean) => void): Leadership {
  let leader = false;
  let closed = false;
  let frozen = false;
  // Aborts a queued request: a frozen tab must not be granted the lock it cannot use.
  let asking: AbortController | undefined;
  let release: (() => void) | undefined;
  const ask = (): void => {
    if (closed || frozen || asking) return;
    const abort = (asking = new AbortController());
    locks
      .request(name, { mode: 'exclusive', signal: abort.signal }, () => {
        if (closed || frozen) return undefined;
        // Held until this promise settles: for the tab's life unless it freezes or closes the vault.
        return new Promise<void>((resolve) => {
          release = () => {
            release = undefined;
            leader = false;
            onChange(false);
            resolve();
          };
          leader = true;
          onChange(true);
        });
      })
      .catch(() => undefined) // AbortError of a queued request we withdrew
      .finally(() => {
        if (asking === abort) asking = undefined;
      });
  };
  const giveUp = (): void => {
    asking?.abort();
    asking = undefined;
    release?.();
  };
  const offLifecycle = onLifecycle(
    () => {
      frozen = true;
      giveUp();
    },
    () => {
      frozen = false;
      ask();
    },
  );
  ask();
  return {
    get leader() {
      return leader;
    },
    mode: 'locks',
    close: async () => {
      closed = true;
      offLifecycle();
      giveUp();
    },
  };
}

interface Lease {
  readonly owner: string;
  readonly expires: number;
}

const LEASE_KEY = 'lease';

function openLeaseDb(name: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open(`kith-tabs/${name}`, 1);
    r.onupgradeneeded = () => r.result.createObjectStore('lease');
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('the lease database did not open'));
  });
}

/** One compare-and-set on the lease: IndexedDB runs overlapping readwrite transactions one at a time, across tabs too. */
function renewLease(db: IDBDatabase, me: string, how: 'take' | 'drop'): Promise<boolean> {
  return new Promise((resolve, reject) => {
    // A lease is worth nothing after a crash, so it need not wait for the disk.
    const tx = db.transaction('lease', 'readwrite', { durability: 'relaxed' });
    const leases = tx.objectStore('lease');
    let mine = false;
    const get = leases.get(LEASE_KEY);
    get.onsuccess = () => {
      const now = Date.now();
      const lease = get.result as Lease | undefined;
      const free = lease === undefined || lease.owner === me || lease.expires <= now;
      if (how === 'drop') {
        if (lease?.owner === me) leases.delete(LEASE_KEY);
      } else if (free) {
        leases.put({ owner: me, expires: now + LEASE_MS } satisfies Lease, LEASE_KEY);
        mine = true;
      }
    };
    tx.oncomplete = () => resolve(mine);
    tx.onerror = tx.onabort = () => reject(tx.error ?? new Error('the lease transaction aborted'));
  });
}

function leaseLeadership(name: string, onChange: (leader: boolean) => void): Leadership {
  const me = crypto.randomUUID();
  // Tells the others the lease was dropped, so one takes it now rather than at the next heartbeat.
  const channel = new BroadcastChannel(`kith-tabs-lease/${name}`);
  const db = openLeaseDb(name);
  let leader = false;
  let closed = false;
  let frozen = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let beating: Promise<void> = Promise.resolve();
  const set = (now: boolean): void => {
    if (now !== leader) {
      leader = now;
      onChange(now);
    }
  };
  const beat = (): void => {
    clearTimeout(timer);
    if (closed || frozen) return;
    beating = beating
      .then(async () => set(await renewLease(await db, me, 'take')))
      .catch(() => set(false))
      .then(() => {
        if (!closed && !frozen) timer = setTimeout(beat, HEARTBEAT_MS);
      });
  };
  const drop = async (): Promise<void> => {
    clearTimeout(timer);
    const was = leader;
    set(false);
    if (!was) return;
    await renewLease(await db, me, 'drop').catch(() => undefined);
    channel.postMessage('dropped');
  };
  channel.onmessage = () => beat();
  const offLifecycle = onLifecycle(
    () => {
      frozen = true;
      void drop();
    },
    () => {
      frozen = false;
      beat();
    },
  );
  // A closing tab's last chance: the drop may not finish, and then the lease lapses on its own.
  const unload = (): void => void drop();
  addEventListener('pagehide', unload);
  beat();
  return {
    get leader() {
      return leader;
    },
    mode: 'lease',
    close: async () => {
      closed = true;
      offLifecycle();
      removeEventListener('pagehide', unload);
      await beating;
      await drop();
      channel.close();
      (await db).close();
    },
  };
}
