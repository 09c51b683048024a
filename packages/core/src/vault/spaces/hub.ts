/**
 * @module vault/spaces/hub
 * What `vault.spaces` and `vault.space(...)` run on: the person's
 * identity, the directory of joined spaces, and the spaces opened locally.
 */
import { ErrorCode, KithError } from '../../base/errors.js';
import type { VaultSession } from '../session.js';
import type { Records } from '../records.js';
import type { SpaceRecordsHost } from './space-records.js';
import type { JoinSpaceOptions, Role, SpaceInfo, SpaceInviteOptions, SpaceInvited, SpaceJoined, SpaceMember } from './space-types.js';

const notWired = (): KithError => new KithError(ErrorCode.Internal, 'not wired yet');

export class SpaceHub {
  readonly #s: VaultSession;
  readonly #records: Records;

  constructor(session: VaultSession, records: Records) {
    this.#s = session;
    this.#records = records;
  }

  async create(_name: string): Promise<{ spaceId: string; name: string }> {
    void this.#s;
    void this.#records;
    throw notWired();
  }
  async list(): Promise<SpaceInfo[]> {
    throw notWired();
  }
  async invite(_space: string, _o: SpaceInviteOptions): Promise<SpaceInvited> {
    throw notWired();
  }
  async join(_code: string, _o: JoinSpaceOptions): Promise<SpaceJoined> {
    throw notWired();
  }
  async members(_space: string): Promise<SpaceMember[]> {
    throw notWired();
  }
  async setRole(_space: string, _personId: string, _role: Role): Promise<void> {
    throw notWired();
  }
  async remove(_space: string, _personId: string): Promise<void> {
    throw notWired();
  }
  async leave(_space: string): Promise<void> {
    throw notWired();
  }
  async setSynced(_space: string, _on: boolean): Promise<void> {
    throw notWired();
  }
  /** The space `space` names, opened locally. */
  async open(_space: string): Promise<SpaceRecordsHost> {
    throw notWired();
  }
  /** Pulls (or pushes) every space this device keeps in sync. */
  async syncAll(_how: { pull: boolean; push: boolean }, _signal?: AbortSignal): Promise<{ pushed: number; pulled: number }> {
    return { pushed: 0, pulled: 0 };
  }
  /** Closes the spaces opened locally. */
  async close(): Promise<void> {}
}
