/**
 * Two persons of a space certifying one deviceId through two relay
 * processes at the same moment: each process's cached view of the space
 * shows neither certificate yet, so only the storage's claim (PostgreSQL's
 * primary key) can let exactly one of them land.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { deviceCertKey, DeviceCertificates, encodeDeviceCert, otherCertifier } from '@kith/core/spaces';
import { spawnRelayProcess, startScaleOutServices, type RelayProcess, type ScaleOutServices } from './testing/index.js';
import { call, certified, objectUrl, relaySpace, testPerson, tokenFor, type TestPerson } from './space-world.test.support.js';

let services: ScaleOutServices;
let relayA: RelayProcess;
let relayB: RelayProcess;

before(async () => {
  services = await startScaleOutServices();
  const target = { ...(await services.fresh()), authSecret: 'a shared secret of at least 32 bytes, for tests' };
  relayA = await spawnRelayProcess(target);
  relayB = await spawnRelayProcess(target);
});
after(async () => {
  await relayA?.stop();
  await relayB?.stop();
  await services?.stop();
});

const ROUNDS = 25;

describe('space device claims across relay processes', () => {
  test('two persons certifying one deviceId through two processes at once: exactly one lands, the other gets 409 KITH_REMOTE_IN_USE', async () => {
    const s = await relaySpace(relayA.url);
    const onB = s.url.replace(relayA.url, relayB.url);
    const reader = s.remote(s.alice);
    // Bob puts through process A, carol through process B.
    const sides = [
      { p: s.bob, url: s.url, token: await tokenFor(s.url, s.key(s.bob, 'person')), certs: new DeviceCertificates(s.bob.keys) },
      { p: s.carol, url: onB, token: await tokenFor(onB, s.key(s.carol, 'person')), certs: new DeviceCertificates(s.carol.keys) },
    ];
    const wins = [0, 0];
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const contested = testPerson().device;
        const listed = { deviceId: contested.deviceId, signPub: contested.sign.pub, boxPub: contested.box.pub };
        for (const side of sides) await side.certs.refresh(reader);
        const bodies = await Promise.all(sides.map((side) => nextCert(side.p, side.certs, [...certified(side.p), listed])));
        const answers = await Promise.all(
          sides.map((side, i) =>
            call('PUT', objectUrl(side.url, deviceCertKey(side.p.keys.personId, side.certs.version + 1)), { token: side.token, body: bodies[i]! }),
          ),
        );
        const outcomes = answers.map((a) => `${a.status}${a.code ? ` ${a.code}` : ''}`);
        assert.deepEqual([...outcomes].sort(), ['204', '409 KITH_REMOTE_IN_USE'], `round ${round}`);
        const winner = outcomes.indexOf('204');
        wins[winner]!++;
        // Storage holds the winner's certificate listing the device, and no certificate of the loser's does.
        const state = await s.state(reader);
        const person = sides[winner]!.p.keys.personId;
        assert.ok(state.certs(person)!.listsEver(contested.deviceId), `round ${round}`);
        assert.equal(otherCertifier(state.m.everyone(), state.certs, person, contested.deviceId), undefined, `round ${round}`);
      }
    } finally {
      await reader.close();
    }
    assert.equal(wins[0]! + wins[1]!, ROUNDS);
  });
});

async function nextCert(p: TestPerson, certs: DeviceCertificates, devices: ReturnType<typeof certified>): Promise<Uint8Array> {
  const { bytes } = await encodeDeviceCert({ personId: p.keys.personId, version: certs.version + 1, prevHash: certs.hash, at: Date.now(), devices }, p.keys);
  return bytes;
}
