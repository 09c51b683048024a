/**
 * @module vault/spaces/lazy-hub
 * The spaces code (person identity, membership chains, key epochs: curve
 * arithmetic and the invite flows) loaded on first use, like the vault's
 * other on-demand parts: a page that never shares never fetches it, and a
 * sync loads it only once the person is in a space.
 */
import type { SyncWarning } from '../../base/warnings.js';
import type { Records } from '../records.js';
import type { VaultSession } from '../session.js';
import { SPACES_DIRECTORY } from '../../model/names.js';
import type { SpaceHub } from './hub.js';
import type { SpaceWatchEvents, SpaceWatcher } from './space-watch.js';

/** What the vault, its `spaces` facade, `space(...)` and the syncer ask of the spaces code. */
export type SpacesHub = Pick<
  SpaceHub,
  'create' | 'list' | 'invite' | 'join' | 'members' | 'setRole' | 'remove' | 'leave' | 'setSynced' | 'host' | 'syncAll' | 'close'
>;

export class LazySpaceHub implements SpacesHub {
  readonly #s: VaultSession;
  readonly #records: Records;
  #hub: Promise<SpaceHub> | undefined;

  constructor(session: VaultSession, records: Records) {
    this.#s = session;
    this.#records = records;
  }

  #load(): Promise<SpaceHub> {
    // A failed load is tried again on the next call.
    const hub = (this.#hub ??= import('./hub.js').then(({ SpaceHub }) => new SpaceHub(this.#s, this.#records)));
    hub.catch(() => {
      if (this.#hub === hub) this.#hub = undefined;
    });
    return hub;
  }

  readonly create: SpacesHub['create'] = async (...a) => (await this.#load()).create(...a);
  readonly list: SpacesHub['list'] = async () => (await this.#load()).list();
  readonly invite: SpacesHub['invite'] = async (...a) => (await this.#load()).invite(...a);
  readonly join: SpacesHub['join'] = async (...a) => (await this.#load()).join(...a);
  readonly members: SpacesHub['members'] = async (...a) => (await this.#load()).members(...a);
  readonly setRole: SpacesHub['setRole'] = async (...a) => (await this.#load()).setRole(...a);
  readonly remove: SpacesHub['remove'] = async (...a) => (await this.#load()).remove(...a);
  readonly leave: SpacesHub['leave'] = async (...a) => (await this.#load()).leave(...a);
  readonly setSynced: SpacesHub['setSynced'] = async (...a) => (await this.#load()).setSynced(...a);
  readonly host: SpacesHub['host'] = async (...a) => (await this.#load()).host(...a);

  /** Syncs the kept spaces; with none in the directory (most vaults), loads nothing. */
  async syncAll(how: { pull: boolean; push: boolean }, signal?: AbortSignal): Promise<{ pushed: number; pulled: number; warnings: SyncWarning[] }> {
    if (!this.#hub && !(await this.#inAnySpace())) return { pushed: 0, pulled: 0, warnings: [] };
    return (await this.#load()).syncAll(how, signal);
  }

  /** Whether the directory names a space this person was not removed from (read here: the directory module belongs to the loaded code). */
  async #inAnySpace(): Promise<boolean> {
    const page = await this.#s.store.read((tx) => tx.query({ collection: SPACES_DIRECTORY }));
    return page.rows.some((r) => !r.deleted && r.fields['removed'] !== true);
  }

  /**
   * Auto-sync's watch of the kept spaces: with none in the directory, each
   * update loads nothing; the first update that finds one loads the spaces
   * code and watches from then on.
   */
  watch(on: SpaceWatchEvents): SpaceWatcher {
    let inner: SpaceWatcher | undefined;
    let stopped = false;
    return {
      update: async () => {
        if (stopped || (!inner && !this.#hub && !(await this.#inAnySpace()))) return;
        const hub = await this.#load();
        if (stopped) return;
        inner ??= hub.watch(on);
        await inner.update();
      },
      stop: () => {
        stopped = true;
        inner?.stop();
      },
    };
  }

  async close(): Promise<void> {
    const hub = this.#hub;
    this.#hub = undefined;
    await (await hub?.catch(() => undefined))?.close();
  }
}
