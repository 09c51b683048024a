/**
 * @module server/auth/space-cache
 * The verified state of each space vault a relay process serves: its
 * membership chain, every member's device certificates and its key
 * epochs, replayed from storage with the core's pure code (entry 1 on).
 * A vault name is a space's when it holds no vault header and its first
 * object is `members/000000000001`, a create entry whose spaceId is the
 * name. Cached like the registries (see registry-cache.ts): every check
 * first looks for what follows the known chains (one look per vault and
 * turn of the event loop, or none while the change bus vouches for the
 * cache), so a removal stored by another process counts for the next
 * request.
 */
import { ErrorCode, isIntegrityError, KithError, type Remote } from '@kith/core/adapter';
import { membershipKey, SpaceState } from '@kith/core/spaces';
import type { RelayLogger } from '../relay-log.js';
import type { RelayStorage } from '../relay-storage.js';
import { CheckedCache, type CacheEntry, type RegistryTrust } from './checked-cache.js';

/** Spaces whose state stays cached; the least recently used beyond this are dropped (and replayed again when needed). */
const MAX_SPACES = 5000;
const SPACE_ID_RE = /^[0-9a-f]{32}$/;

/** Keys whose change moves a space's state: the membership chain, certificates and epochs. */
export function movesSpaceState(key: string): boolean {
  return key.startsWith('members/') || key.startsWith('people/') || key.startsWith('epochs/');
}

/** The core's chains read only `get`: the relay's storage of one vault, as such a reader. */
export function storageReader(db: RelayStorage, vault: string): Remote {
  const reader: Pick<Remote, 'get'> = { get: (key) => db.get(vault, key) };
  return reader as Remote;
}

/** Cached states of the spaces a relay process serves. */
export class SpaceCache extends CheckedCache<SpaceState> {
  readonly #db: RelayStorage;
  readonly #log: RelayLogger;
  /** Told whenever a space's state moved (to close sockets of removed members and dropped devices). */
  readonly #onChange: (vault: string, state: SpaceState) => void;

  constructor(db: RelayStorage, log: RelayLogger, onChange: (vault: string, state: SpaceState) => void, trust?: RegistryTrust) {
    super(MAX_SPACES, trust);
    this.#db = db;
    this.#log = log;
    this.#onChange = onChange;
  }

  /** Catches up (the chains advance in place, one catch-up at a time); storage then showed nothing newer. */
  protected async look(vault: string, e: CacheEntry<SpaceState>): Promise<boolean> {
    await this.serial(e, () => this.#catchUp(vault, e.value));
    return true;
  }

  protected async load(vault: string): Promise<CacheEntry<SpaceState> | null> {
    if (!SPACE_ID_RE.test(vault)) return null;
    if (!(await this.#db.head(vault, membershipKey(1))) || (await this.#db.head(vault, 'vault'))) return null;
    const state = new SpaceState(vault);
    await this.#catchUp(vault, state);
    return state.m.seq === 0 ? null : { value: state, generation: 0, queue: Promise.resolve() };
  }

  /**
   * Reads what follows the known chains: membership, then the certificates
   * of everyone it names, then the epochs. An object that does not verify
   * ends its chain for the relay as for every member (the relay checks what
   * it stores, so only an operator's hand puts one there).
   */
  async #catchUp(vault: string, state: SpaceState): Promise<void> {
    const reader = storageReader(this.#db, vault);
    const before = fingerprint(state);
    await this.#guard(() => state.m.refresh(reader));
    for (const p of state.m.everyone()) await this.#guard(() => state.certs(p)!.refresh(reader));
    await this.#guard(() => state.epochs.refresh(reader, state.m, state.certs));
    if (fingerprint(state) !== before) this.#onChange(vault, state);
  }

  async #guard(fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (!isIntegrityError(err) && !(KithError.is(err) && err.code === ErrorCode.UnsupportedFormat)) throw err;
      this.#log({ level: 'warn', msg: 'space object refused', reason: err.code });
    }
  }
}

/** How far a state has come: moves whenever any of its chains does. */
function fingerprint(s: SpaceState): string {
  return [s.m.seq, s.epochs.count, ...s.m.everyone().map((p) => s.certs(p)!.version)].join();
}
