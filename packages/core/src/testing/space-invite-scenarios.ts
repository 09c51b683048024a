/**
 * @module testing/space-invite-scenarios
 * What an invite leaves on a real remote (run by `runSpaceScenarios`): the
 * admin's device deletes a finished invite's objects once the invitee's
 * certificate is in; what an admin's device left (it stopped after the
 * offer, or a refusal's `done`) goes with an admin's next sync once the
 * invite's expiry is past the grace, and with no writer's sync.
 */
import assert from 'node:assert/strict';
import { seededRandom, type Deps } from '../base/deps.js';
import type { Remote } from '../ports/remote.js';
import { adminInvite, joinInvite } from '../spaces/invite-flow.js';
import { INVITE_SWEEP_GRACE_MS, INVITES_PREFIX, offerInvite } from '../spaces/invite.js';
import { createSharedSpace, keepSpaceKeys } from '../spaces/space-ops.js';
import { SpaceState } from '../spaces/space-state.js';
import { ownDevices, spaceActorOf, testPerson, type TestPerson } from './space-people.js';

type Scenario = (title: string, body: (h: { openRemote(): Promise<Remote> }) => Promise<void>) => void;

/** Real time: the flows wait on it. No assertion depends on how long anything takes. */
const realDeps = (seed: number, ahead = 0): Deps => ({ random: seededRandom(seed), now: () => Date.now() + ahead });
const POLL = 5;

const listed = async (remote: Remote): Promise<string[]> => (await remote.list(INVITES_PREFIX)).map((o) => o.key.replace(/^invites\/[0-9a-f]+\//, ''));

/** `admin` invites `who` as a writer through `adminRemote` while `who` joins through `inviteeRemote`; the admin confirms equal strings. */
async function inviteAndJoin(adminRemote: Remote, state: SpaceState, admin: TestPerson, inviteeRemote: Remote, who: TestPerson): Promise<void> {
  let onCode!: (c: string) => void;
  const code = new Promise<string>((r) => (onCode = r));
  let onSas!: (s: string) => void;
  const sas = new Promise<string>((r) => (onSas = r));
  const inviting = adminInvite(
    adminRemote,
    state,
    spaceActorOf(admin),
    { pollMs: POLL, timeoutMs: 120_000, onCode, confirm: async (s) => s === (await sas) },
    realDeps(41),
  );
  const joined = await joinInvite(
    inviteeRemote,
    await code,
    spaceActorOf(who),
    ownDevices(who.devices),
    'Ben',
    { pollMs: POLL, timeoutMs: 120_000, onSas },
    realDeps(42),
  );
  // Only the admin's device seals the key here, once it saw the certificate: so its wait ends, and the invite's objects go.
  assert.ok(joined.certified && joined.epochKey, 'the invitee is certified and holds the key');
  await inviting;
}

export function runSpaceInviteScenarios(scenario: Scenario): void {
  const ana = testPerson(21, [211]);
  const ben = testPerson(22, [221]);

  scenario('an invite’s objects are gone once the invitee is certified: the admin’s device deletes them', async (h) => {
    const adminRemote = await h.openRemote();
    const inviteeRemote = await h.openRemote();
    try {
      const { state } = await createSharedSpace(adminRemote, spaceActorOf(ana), ownDevices(ana.devices), realDeps(40));
      await inviteAndJoin(adminRemote, state, ana, inviteeRemote, ben);
      assert.deepEqual(await listed(adminRemote), [], 'offer, answer, done and expires deleted');
      assert.equal((await new SpaceState(state.spaceId).refresh(inviteeRemote)).m.member(ben.keys.personId)?.role, 'writer');
    } finally {
      await adminRemote.close();
      await inviteeRemote.close();
    }
  });

  scenario('expired invites an admin’s device left go with an admin’s next sync after the grace, not before, and never with a writer’s', async (h) => {
    const adminRemote = await h.openRemote();
    const writerRemote = await h.openRemote();
    try {
      const { state } = await createSharedSpace(adminRemote, spaceActorOf(ana), ownDevices(ana.devices), realDeps(50));
      await inviteAndJoin(adminRemote, state, ana, writerRemote, ben);
      // An admin's device that stopped right after its offer (nobody answered), and an invite nobody answered in time (its done is left).
      const ttlMs = 60_000;
      await offerInvite(adminRemote, { spaceId: state.spaceId, role: 'reader', admin: ana.keys, chain: state.m.pin, ttlMs, dated: true }, realDeps(51));
      await assert.rejects(
        adminInvite(adminRemote, state, spaceActorOf(ana), { timeoutMs: 1, pollMs: POLL, onCode: () => undefined, confirm: async () => true }, realDeps(52)),
      );
      assert.deepEqual((await listed(adminRemote)).sort(), ['done', 'expires', 'expires', 'offer']);
      const past = ttlMs + INVITE_SWEEP_GRACE_MS + 60_000;
      // A writer's sync, even long after, deletes nothing of an invite.
      await keepSpaceKeys(writerRemote, new SpaceState(state.spaceId), spaceActorOf(ben), realDeps(53, past));
      assert.equal((await listed(adminRemote)).length, 4);
      // An admin's sync within the grace keeps them: the invitee may not have read the outcome yet.
      await keepSpaceKeys(adminRemote, state, spaceActorOf(ana), realDeps(54, INVITE_SWEEP_GRACE_MS / 2));
      assert.equal((await listed(adminRemote)).length, 4);
      await keepSpaceKeys(adminRemote, state, spaceActorOf(ana), realDeps(55, past));
      assert.deepEqual(await listed(adminRemote), []);
    } finally {
      await adminRemote.close();
      await writerRemote.close();
    }
  });
}
