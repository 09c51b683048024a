/**
 * @module spaces/space-state
 * One device's verified view of a space: the membership chain, every
 * member's (and former member's) device certificates, and the key epochs,
 * caught up together in the order each depends on.
 */
import type { Remote } from '../ports/remote.js';
import { DeviceCertificates } from './device-cert.js';
import { SpaceEpochs, type CertsOf } from './epochs.js';
import { Membership } from './membership.js';

export class SpaceState {
  readonly m: Membership;
  readonly epochs: SpaceEpochs;
  readonly #certs = new Map<string, DeviceCertificates>();

  constructor(readonly spaceId: string) {
    this.m = Membership.empty(spaceId);
    this.epochs = new SpaceEpochs(spaceId);
  }

  /** The verified certificates of someone who is or was a member (undefined: never a member). */
  readonly certs: CertsOf = (personId) => {
    let c = this.#certs.get(personId);
    const person = this.m.person(personId);
    if (!c && person) this.#certs.set(personId, (c = new DeviceCertificates(person)));
    return c;
  };

  /** Catches up: membership, then the certificates of everyone it names, then the epochs. */
  async refresh(remote: Remote): Promise<this> {
    await this.m.refresh(remote);
    for (const p of this.m.everyone()) await this.certs(p)!.refresh(remote);
    await this.epochs.refresh(remote, this.m, this.certs);
    return this;
  }
}
