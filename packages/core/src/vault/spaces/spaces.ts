/**
 * @module vault/spaces/spaces
 * `vault.spaces`: the shared spaces this person is in. Create, list,
 * invite and join, members and roles, leave, and whether this device keeps
 * a space in sync. Each call resolves a space by name or spaceId
 * (KITH_NOT_FOUND for an unknown one, KITH_BAD_INPUT for a name two spaces
 * share).
 */
import type { SpacesHub } from './lazy-hub.js';
import type { JoinSpaceOptions, Role, SpaceInfo, SpaceInviteOptions, SpaceInvited, SpaceJoined, SpaceMember } from './space-types.js';

export class Spaces {
  readonly #hub: SpacesHub;

  /** @internal The vault makes its own (`vault.spaces`). */
  constructor(hub: SpacesHub) {
    this.#hub = hub;
  }

  /** Creates a space with this person as its only member (admin), on a remote next to the vault's. */
  create(name: string): Promise<{ spaceId: string; name: string }> {
    return this.#hub.create(name);
  }

  /** The spaces this person joined (from the personal space, so every device of the person lists them). */
  list(): Promise<SpaceInfo[]> {
    return this.#hub.list();
  }

  /**
   * Invites someone (an admin's call): `onCode` gets the code to hand over;
   * once they answer, `confirm` compares the short authentication string
   * and admits them with `role` (default writer).
   */
  invite(space: string, o: SpaceInviteOptions): Promise<SpaceInvited> {
    return this.#hub.invite(space, o);
  }

  /** Joins a space with an invite code (`<code>@<space remote URL>`); resolves once the admin confirmed. */
  join(code: string, o: JoinSpaceOptions = {}): Promise<SpaceJoined> {
    return this.#hub.join(code, o);
  }

  /** The space's current members, with their names and roles. */
  members(space: string): Promise<SpaceMember[]> {
    return this.#hub.members(space);
  }

  /** Changes a member's role (admins only). */
  setRole(space: string, personId: string, role: Role): Promise<void> {
    return this.#hub.setRole(space, personId, role);
  }

  /** Removes a member (admins only): a new key epoch their devices cannot open. */
  remove(space: string, personId: string): Promise<void> {
    return this.#hub.remove(space, personId);
  }

  /** Leaves the space: this person's devices stop syncing it. */
  leave(space: string): Promise<void> {
    return this.#hub.leave(space);
  }

  /** Whether this device keeps the space in sync (a per-device choice; the others keep theirs). */
  setSynced(space: string, on: boolean): Promise<void> {
    return this.#hub.setSynced(space, on);
  }
}
