/**
 * @module tabs/leadership
 * Which tab of an origin is the leader (the one that syncs): the holder of
 * a Web Lock held for the tab's life, or, where `navigator.locks` is
 * missing (some Android WebViews, older Safari), the holder of a lease
 * record in IndexedDB renewed by heartbeat.
 *
 * A frozen tab runs no code, so it gives leadership up on the Page
 * Lifecycle `freeze` event (and on `pagehide` into the back/forward cache)
 * and asks again on `resume`/`pageshow`; a tab frozen without that event
 * (DevTools' freeze sends none) or hung stops saying it is alive, and a
 * follower steals its lock (or its lease lapses). Two leaders overlapping for a
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

/** A heartbeat (lease mode) or the leader's silence (locks mode) counts this long: another tab takes over within it. */
export const LEASE_MS = 900;
/**
 * A hidden tab's heartbeat record lives this long instead: browsers run a
 * hidden tab's timers at most once a second, which would let its record
 * lapse between beats (a hidden leader is replaced within this).
 */
export const HIDDEN_LEASE_MS = 2500;
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
  // The leader says it is alive; a follower that hears nothing for LEASE_MS steals the lock, because a tab
  // frozen without its `freeze` event (as DevTools' freeze does) or hung would otherwise hold it for good.
  const alive = new BroadcastChannel(`kith-tabs-alive/${name}`);
  let heard = Date.now();
  let lastTick = Date.now();
  alive.onmessage = () => (heard = Date.now());
  const request = (steal: boolean): void => {
    const abort = steal ? undefined : (asking = new AbortController());
    // This request's own release, so a withdrawn request never ends a later grant's leadership.
    let mine: (() => void) | undefined;
    const grant = (): Promise<void> | undefined => {
      if (closed || frozen) return undefined;
      // Held until this promise settles: for the tab's life unless it freezes, closes the vault, or is stolen from.
      return new Promise<void>((resolve) => {
        mine = release = () => {
          if (release === mine) release = undefined;
          mine = undefined;
          leader = false;
          onChange(false);
          resolve();
        };
        leader = true;
        alive.postMessage('alive');
        onChange(true);
      });
    };
    locks
      .request(name, steal ? { mode: 'exclusive', steal: true } : { mode: 'exclusive', signal: abort!.signal }, grant)
      .catch(() => {
        // Withdrawn while queued (AbortError): nothing to do. Stolen from while leading: follow, and queue again.
        if (mine) {
          mine();
          if (abort !== undefined && asking === abort) asking = undefined;
          ask();
        }
      })
      .finally(() => {
        if (abort !== undefined && asking === abort) asking = undefined;
      });
  };
  const ask = (): void => {
    if (!closed && !frozen && !asking && !leader) request(false);
  };
  const tick = setInterval(() => {
    const now = Date.now();
    // A late tick means this tab slept (frozen, throttled): its silence count starts over, no steal.
    const slept = now - lastTick > LEASE_MS;
    lastTick = now;
    if (closed || frozen) return;
    if (leader) alive.postMessage('alive');
    else if (slept) heard = now;
    else if (now - heard > LEASE_MS) {
      heard = now;
      asking?.abort();
      asking = undefined;
      request(true);
    }
  }, HEARTBEAT_MS);
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
      heard = lastTick = Date.now();
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
      clearInterval(tick);
      offLifecycle();
      giveUp();
      alive.close();
    },
  };
}

/** A tab's heartbeat record: the oldest tab (smallest `since`) whose record has not lapsed leads. */
interface Beat {
  readonly tab: string;
  readonly since: number;
  readonly expires: number;
}

function openLeaseDb(name: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open(`kith-tabs/${name}`, 1);
    r.onupgradeneeded = () => r.result.createObjectStore('beats');
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('the lease database did not open'));
  });
}

/**
 * Renews this tab's record (or drops it) and reads all of them, in one
 * transaction committed in the same task it starts in: it never waits for
 * this tab's code, so a tab that freezes or hangs halfway cannot leave it
 * open and block the others (a compare-and-set would have to read, then
 * decide in a callback).
 */
function beatOnce(db: IDBDatabase, mine: Beat | undefined, me: string): Promise<Beat[]> {
  return new Promise((resolve, reject) => {
    // A heartbeat is worth nothing after a crash, so it need not wait for the disk.
    const tx = db.transaction('beats', 'readwrite', { durability: 'relaxed' });
    const beats = tx.objectStore('beats');
    if (mine) beats.put(mine, me);
    else beats.delete(me);
    const all = beats.getAll();
    tx.commit();
    tx.oncomplete = () => resolve(all.result as Beat[]);
    tx.onerror = tx.onabort = () => reject(tx.error ?? new Error('the heartbeat transaction aborted'));
  });
}

/** The tab that leads by these records at `now`: the oldest live one. */
function oldestLive(beats: readonly Beat[], now: number): string | undefined {
  let best: Beat | undefined;
  for (const b of beats) {
    if (b.expires <= now) continue;
    if (!best || b.since < best.since || (b.since === best.since && b.tab < best.tab)) best = b;
  }
  return best?.tab;
}

function leaseLeadership(name: string, onChange: (leader: boolean) => void): Leadership {
  const me = crypto.randomUUID();
  // Tells the others this tab left, so the next one leads now rather than when its record lapses.
  const channel = new BroadcastChannel(`kith-tabs-lease/${name}`);
  const db = openLeaseDb(name);
  let leader = false;
  let closed = false;
  let frozen = false;
  let since = Date.now();
  let lastBeat = Date.now();
  let life = LEASE_MS;
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
      .then(async () => {
        const now = Date.now();
        // A tab that slept past its record's life rejoins at the back rather than displacing the leader.
        if (now - lastBeat > life) since = now;
        lastBeat = now;
        life = typeof document !== 'undefined' && document.visibilityState === 'hidden' ? HIDDEN_LEASE_MS : LEASE_MS;
        const beats = await beatOnce(await db, { tab: me, since, expires: now + life }, me);
        set(!closed && !frozen && oldestLive(beats, Date.now()) === me);
      })
      .catch(() => set(false))
      .then(() => {
        if (!closed && !frozen) timer = setTimeout(beat, HEARTBEAT_MS);
      });
  };
  const drop = async (): Promise<void> => {
    clearTimeout(timer);
    set(false);
    await beatOnce(await db, undefined, me).catch(() => undefined);
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
  // A closing tab's last chance: the drop may not finish, and then its record lapses on its own.
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
