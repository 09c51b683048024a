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
import { CheckedCache, type CacheEntry, type RegistryTrust } from './checked-cache.js';

export type { RegistryTrust } from './checked-cache.js';

/** Vaults whose registry stays cached; the least recently used beyond this are dropped (and replayed again when needed). */
const MAX_VAULTS = 5000;
const REGISTRY_KEY_RE = /^registry\/(\d{12})$/;

interface Entry extends CacheEntry<RegistryReplay> {
  /** Etag of a stored entry that failed verification: the registry ends before it until it is replaced. */
  refused?: { seq: number; etag: string };
}

/** The seq a `registry/<seq>` key names, or undefined for any other key. */
export function registrySeqOf(key: string): number | undefined {
  const m = REGISTRY_KEY_RE.exec(key);
  return m ? Number(m[1]) : undefined;
}

/** Cached registry replays of the vaults a relay process serves. */
export class RegistryCache extends CheckedCache<RegistryReplay, Entry> {
  readonly #db: RelayStorage;
  readonly #log: RelayLogger;
  /** Told whenever a vault's registry moved on (to close sockets of signers no longer admitted). */
  readonly #onChange: (vault: string, replay: RegistryReplay) => void;

  constructor(db: RelayStorage, log: RelayLogger, onChange: (vault: string, replay: RegistryReplay) => void, trust?: RegistryTrust) {
    super(MAX_VAULTS, trust);
    this.#db = db;
    this.#log = log;
    this.#onChange = onChange;
  }

  /** Is there an entry past the known ones (one point lookup)? Catches up if so. */
  protected async look(vault: string, e: Entry): Promise<boolean> {
    const next = await this.#db.head(vault, remoteKeys.registryEntry(e.value.seq + 1));
    if (!next || (e.refused?.seq === e.value.seq + 1 && e.refused.etag === next.etag)) return true;
    await this.serial(e, () => this.#catchUp(vault, e));
    return false;
  }

  /**
   * Stores `bytes` as `registry/<seq>` if it is the valid next entry:
   * resolves true when stored, false when an entry already holds that seq;
   * throws KITH_BAD_INPUT (not the next seq) or a KITH_INTEGRITY_* error
   * (bad chain, signature or rule), storing nothing.
   */
  async append(vault: string, seq: number, bytes: Uint8Array): Promise<boolean> {
    const e = await this.entry(vault);
    if (!e) throw new KithError(ErrorCode.RemoteEmpty, 'there is no vault under this name', { hint: 'create it first (`kith init`)' });
    return this.serial(e, async () => {
      await this.#catchUp(vault, e);
      if (seq <= e.value.seq) return false;
      if (seq !== e.value.seq + 1) throw new KithError(ErrorCode.BadInput, `registry entry ${seq} would leave a gap after entry ${e.value.seq}`);
      const trial = e.value.fork();
      await trial.next(bytes);
      if ((await this.#db.put(vault, remoteKeys.registryEntry(seq), bytes, true)) === null) return false;
      e.value = trial;
      delete e.refused;
      this.#onChange(vault, trial);
      return true;
    });
  }

  protected async load(vault: string): Promise<Entry | null> {
    const header = await this.#db.get(vault, remoteKeys.vault);
    if (!header) return null; // not cached: another process may create it any moment
    let replay: RegistryReplay;
    try {
      replay = await RegistryReplay.start(header);
    } catch {
      this.#log({ level: 'warn', msg: 'vault header refused', reason: 'does not verify' });
      return null;
    }
    const e: Entry = { value: replay, generation: 0, queue: Promise.resolve() };
    await this.#catchUp(vault, e);
    return e;
  }

  /** Applies every stored entry after the known ones, up to the first that does not verify. */
  async #catchUp(vault: string, e: Entry): Promise<void> {
    const before = e.value.seq;
    for (;;) {
      const seq = e.value.seq + 1;
      const key = remoteKeys.registryEntry(seq);
      const info = await this.#db.head(vault, key);
      if (!info || (e.refused?.seq === seq && e.refused.etag === info.etag)) break;
      const bytes = await this.#db.get(vault, key);
      if (!bytes) break;
      try {
        await e.value.next(bytes);
        delete e.refused;
      } catch (err) {
        // Devices refuse it too; the registry ends before it for everyone.
        e.refused = { seq, etag: info.etag };
        this.#log({ level: 'warn', msg: 'registry entry refused', reason: KithError.is(err) ? err.code : 'unreadable' });
        break;
      }
    }
    if (e.value.seq !== before) this.#onChange(vault, e.value);
  }
}
