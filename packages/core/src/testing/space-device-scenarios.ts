/**
 * @module testing/space-device-scenarios
 * A deviceId two persons certify (run by `runSpaceScenarios`): a writer
 * lists another member's deviceId in their own certificate, under a key
 * of their own, and writes at that device's paths. Every reader refuses
 * the device's objects, whichever person they name (docs/FORMAT.md
 * "Device certificate"); the squatter's other devices still read.
 */
import assert from 'node:assert/strict';
import { ErrorCode, KithError } from '../base/errors.js';
import type { Remote } from '../ports/remote.js';
import { readSpaceSegments, pushSpaceSegment, SPACE_CHAIN_START, writeSpaceSegment } from '../spaces/space-segments.js';
import { SpaceState } from '../spaces/space-state.js';
import { certify, testDevice, type TestDevice } from './space-people.js';
import { as, op, refusal, texts } from './space-segment-scenarios.js';
import { spaceWorld } from './space-world.js';

type Scenario = (title: string, body: (h: { openRemote(): Promise<Remote> }) => Promise<void>) => void;

export function runSpaceDeviceScenarios(scenario: Scenario): void {
  scenario('a deviceId two persons certify: every reader refuses that device’s segments and head, whichever person they name', async (h) => {
    const remote = await h.openRemote();
    const carols = await h.openRemote();
    try {
      const { d, a, b, c, s, epoch0Key } = await spaceWorld(remote, 31);
      const [, a1] = a.devices as [TestDevice, TestDevice];
      const [b0] = b.devices as [TestDevice];
      const [c0] = c.devices as [TestDevice];
      const alices = await pushSpaceSegment(remote, { state: new SpaceState(s.spaceId), me: as(a, a1), ops: [op('from alice')], chain: SPACE_CHAIN_START }, d);
      await pushSpaceSegment(remote, { state: new SpaceState(s.spaceId), me: as(b, b0), ops: [op('from bob')], chain: SPACE_CHAIN_START }, d);
      // Bob, a writer, certifies alice's deviceId under a key of his own, then writes at its paths as himself.
      const squat: TestDevice = { ...testDevice(200), deviceId: a1.deviceId };
      await certify(remote, b, d.now(), [...b.devices, squat]);
      const state = await new SpaceState(s.spaceId).refresh(remote);
      await writeSpaceSegment(remote, { state, me: as(b, squat), ops: [op('forged by bob')], chain: alices, epoch: 0, epochKey: epoch0Key }, d);
      const r = await readSpaceSegments(carols, {
        state: new SpaceState(s.spaceId),
        me: { personId: c.keys.personId, deviceId: c0.deviceId, boxSecret: c0.box.secret },
      });
      assert.deepEqual(texts(r, a1.deviceId), [], 'nothing at the shared device’s paths is read');
      const e = refusal(r, a1.deviceId)?.error;
      assert.ok(KithError.is(e, ErrorCode.IntegrityUnknownSigner) && e.reason === 'shared-device', String(e));
      assert.deepEqual(texts(r, b0.deviceId), ['from bob'], 'the squatter’s own devices still read');
    } finally {
      await remote.close();
      await carols.close();
    }
  });
}
