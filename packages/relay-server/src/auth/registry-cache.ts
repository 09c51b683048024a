/**
 * @module server/auth/registry-cache
 * Which signers each vault's registry admits now, as core's
 * {@link RegistryReplay} computes it from `vault` and `registry/*`. Cached
 * per vault; every check first asks storage whether the next entry exists
 * (one point lookup, shared by the checks of one turn), so an entry another relay process stored (a
 * revocation) counts for the very next request. Registry entries that come
 * through this process are verified before they are stored.
 */
import { ErrorCode, KithError, remoteKeys } from '@kith/core/adapter';
import { RegistryReplay } from '@kith/core/relay';
import type { RelayStorage } from '../relay-storage.js';
import type { RelayLogger } from '../relay-log.js';

/** Vaults whose registry stays cached; the least recently used beyond this are dropped (and replayed again when needed). */
const MAX_VAULTS = 5000;
const REGISTRY_KEY_RE = /^registry\/(\d{12})$/;

/**
 * When a cached registry may be used without asking storage. `continuity`
 * is the change bus's: it stays the same while the bus has carried every
 * notice since it was read, and is undefined while the bus is down.
 */
export interface RegistryTrust {
  readonly ms: number;
  readonly continuity: () => number | undefined;
  readonly now?: () => number;
}

interface Entry {
  replay: RegistryReplay;
  /** Bumped by every registry notice: a check that overlapped one proves nothing. */
  generation: number;
  /** When storage last showed nothing past `replay`, under which bus continuity. */
  checked?: { at: number; continuity: number };
  /** Etag of a stored entry that failed verification: the registry ends before it until it is replaced. */
  refused?: { seq: number; etag: string };
  /** Catch-ups and appends of this vault, one at a time. */
  queue: Promise<unknown>;
  /** The look at storage that checks of this turn share (see `#look`). */
  look?: Promise<void>;
}

/** The seq a `registry/<seq>` key names, or undefined for any other key. */
export function registrySeqOf(key: string): number | undefined {
  const m = REGISTRY_KEY_RE.exec(key);
  return m ? Number(m[1]) : undefined;
}

/** Cached registry replays of the vaults a relay process serves. */
export class RegistryCache {
  readonly #db: RelayStorage;
  readonly #log: RelayLogger;
  readonly #entries = new Map<string, Entry>();
  readonly #loading = new Map<string, Promise<Entry | null>>();
  /** Told whenever a vault's registry moved on (to close sockets of signers no longer admitted). */
  readonly #onChange: (vault: string, replay: RegistryReplay) => void;
  readonly #trust: RegistryTrust | undefined;

  constructor(db: RelayStorage, log: RelayLogger, onChange: (vault: string, replay: RegistryReplay) => void, trust?: RegistryTrust) {
    this.#db = db;
    this.#log = log;
    this.#onChange = onChange;
    this.#trust = trust !== undefined && trust.ms > 0 ? trust : undefined;
  }

  /** True when `vault` is cached (a change elsewhere is worth a look only then). */
  has(vault: string): boolean {
    return this.#entries.has(vault);
  }

  /** The vault's registry as storage holds it now; null when the vault has no (valid) header. */
  async current(vault: string): Promise<RegistryReplay | null> {
    const e = await this.#entry(vault);
    if (!e) return null;
    if (this.#trusted(e)) return e.replay;
    await (e.look ??= this.#look(vault, e));
    return e.replay;
  }

  /**
   * One look at storage for every check of `vault` made in this turn of the
   * event loop: made once the turn's requests have all arrived (the check
   * phase), so it still sees every entry stored before any of them came,
   * and a busy relay asks once per vault and turn instead of once per request.
   */
  async #look(vault: string, e: Entry): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    // Checks from here on arrived after this look began: they wait for a look of their own.
    delete e.look;
    const generation = e.generation;
    const continuity = this.#trust?.continuity();
    const next = await this.#db.head(vault, remoteKeys.registryEntry(e.replay.seq + 1));
    if (next && !(e.refused?.seq === e.replay.seq + 1 && e.refused.etag === next.etag)) await this.#serial(e, () => this.#catchUp(vault, e));
    else if (this.#trust && continuity !== undefined && e.generation === generation && this.#trust.continuity() === continuity) {
      e.checked = { at: this.#now(), continuity };
    }
  }

  /** Another process may have stored a registry entry of `vault`: the next check asks storage. */
  distrust(vault: string): void {
    const e = this.#entries.get(vault);
    if (e) {
      e.generation++;
      delete e.checked;
    }
  }

  /** Notices may have been lost (the bus was down): every vault's next check asks storage. */
  distrustAll(): void {
    for (const vault of this.#entries.keys()) this.distrust(vault);
  }

  #trusted(e: Entry): boolean {
    const t = this.#trust;
    return t !== undefined && e.checked !== undefined && e.checked.continuity === t.continuity() && this.#now() - e.checked.at < t.ms;
  }

  #now(): number {
    return (this.#trust?.now ?? Date.now)();
  }

  /**
   * Stores `bytes` as `registry/<seq>` if it is the valid next entry:
   * resolves true when stored, false when an entry already holds that seq;
   * throws KITH_BAD_INPUT (not the next seq) or a KITH_INTEGRITY_* error
   * (bad chain, signature or rule), storing nothing.
   */
  async append(vault: string, seq: number, bytes: Uint8Array): Promise<boolean> {
    const e = await this.#entry(vault);
    if (!e) throw new KithError(ErrorCode.RemoteEmpty, 'there is no vault under this name', { hint: 'create it first (`kith init`)' });
    return this.#serial(e, async () => {
      await this.#catchUp(vault, e);
      if (seq <= e.replay.seq) return false;
      if (seq !== e.replay.seq + 1) throw new KithError(ErrorCode.BadInput, `registry entry ${seq} would leave a gap after entry ${e.replay.seq}`);
      const trial = e.replay.fork();
      await trial.next(bytes);
      if ((await this.#db.put(vault, remoteKeys.registryEntry(seq), bytes, true)) === null) return false;
      e.replay = trial;
      delete e.refused;
      this.#onChange(vault, trial);
      return true;
    });
  }

  /** Forgets a vault: its header was just created, so whatever was cached under the name is void. */
  forget(vault: string): void {
    this.#entries.delete(vault);
  }

  async #entry(vault: string): Promise<Entry | null> {
    const hit = this.#entries.get(vault);
    if (hit) {
      // Most recently used last, so eviction drops the oldest.
      this.#entries.delete(vault);
      this.#entries.set(vault, hit);
      return hit;
    }
    let loading = this.#loading.get(vault);
    if (!loading) {
      loading = this.#load(vault).finally(() => this.#loading.delete(vault));
      this.#loading.set(vault, loading);
    }
    return loading;
  }

  async #load(vault: string): Promise<Entry | null> {
    const header = await this.#db.get(vault, remoteKeys.vault);
    if (!header) return null; // not cached: another process may create it any moment
    let replay: RegistryReplay;
    try {
      replay = await RegistryReplay.start(header);
    } catch {
      this.#log({ level: 'warn', msg: 'vault header refused', reason: 'does not verify' });
      return null;
    }
    const e: Entry = { replay, generation: 0, queue: Promise.resolve() };
    await this.#catchUp(vault, e);
    this.#entries.set(vault, e);
    if (this.#entries.size > MAX_VAULTS) this.#entries.delete(this.#entries.keys().next().value!);
    return e;
  }

  /** Applies every stored entry after the known ones, up to the first that does not verify. */
  async #catchUp(vault: string, e: Entry): Promise<void> {
    const before = e.replay.seq;
    for (;;) {
      const seq = e.replay.seq + 1;
      const key = remoteKeys.registryEntry(seq);
      const info = await this.#db.head(vault, key);
      if (!info || (e.refused?.seq === seq && e.refused.etag === info.etag)) break;
      const bytes = await this.#db.get(vault, key);
      if (!bytes) break;
      try {
        await e.replay.next(bytes);
        delete e.refused;
      } catch (err) {
        // Devices refuse it too; the registry ends before it for everyone.
        e.refused = { seq, etag: info.etag };
        this.#log({ level: 'warn', msg: 'registry entry refused', reason: KithError.is(err) ? err.code : 'unreadable' });
        break;
      }
    }
    if (e.replay.seq !== before) this.#onChange(vault, e.replay);
  }

  #serial<T>(e: Entry, fn: () => Promise<T>): Promise<T> {
    const run = e.queue.catch(() => undefined).then(fn);
    e.queue = run;
    return run;
  }
}
