/**
 * @module testing/space-world
 * A small shared space for scenarios: alice (admin), bob (writer) and
 * carol (reader), two devices each, certified, with epoch 0 sealed to
 * every device.
 */
import { seededRandom, type Deps } from '../base/deps.js';
import type { Remote } from '../ports/remote.js';
import { shareEpochKey } from '../spaces/epochs.js';
import { startEpoch } from '../spaces/epoch-start.js';
import { appendMembership, createSpace } from '../spaces/membership.js';
import { SpaceState } from '../spaces/space-state.js';
import { actorOf, certify, testPerson, type TestPerson } from './space-people.js';

/** Seeded randomness and a clock that ticks one ms per reading, from 2026-01-01. */
export function spaceDeps(seed: number): Deps {
  let t = 1_767_225_600_000;
  return { random: seededRandom(seed), now: () => t++ };
}

export interface SpaceWorld {
  readonly d: Deps;
  readonly a: TestPerson;
  readonly b: TestPerson;
  readonly c: TestPerson;
  /** Alice's view of the space. */
  readonly s: SpaceState;
  readonly epoch0Key: Uint8Array;
}

/** Alice's space on `remote` with epoch 0, and bob (writer) and carol (reader) holding its key through their certificates. */
export async function spaceWorld(remote: Remote, seed: number): Promise<SpaceWorld> {
  const d = spaceDeps(seed);
  const [a, b, c] = [testPerson(11, [111, 112]), testPerson(12, [121, 122]), testPerson(13, [131, 132])] as [TestPerson, TestPerson, TestPerson];
  const m = await createSpace(remote, a.keys, d);
  await certify(remote, a, d.now());
  const s = await new SpaceState(m.spaceId).refresh(remote);
  const first = await startEpoch(remote, { m: s.m, epochs: s.epochs, certs: s.certs, actor: actorOf(a), lastSeqOf: async () => 0 }, d);
  await appendMembership(remote, s.m, a.keys, { kind: 'add', person: b.keys, role: 'writer' }, d);
  await appendMembership(remote, s.m, a.keys, { kind: 'add', person: c.keys, role: 'reader' }, d);
  await certify(remote, b, d.now());
  await certify(remote, c, d.now());
  await s.refresh(remote);
  await shareEpochKey(remote, { m: s.m, epochs: s.epochs, certs: s.certs, epochKey: first.epochKey!, actor: actorOf(a) }, d);
  return { d, a, b, c, s, epoch0Key: first.epochKey! };
}
