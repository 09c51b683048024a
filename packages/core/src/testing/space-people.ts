/**
 * @module testing/space-people
 * People with devices for space tests: fixed identities and device keys,
 * and each person publishing their device certificate to a space.
 */
import type fc from 'fast-check';
import { boxKeyFromSecret, bytesToHex, signingKeyFromSeed, type BoxKeyPair, type SigningKeyPair } from '../crypto/index.js';
import type { Remote } from '../ports/remote.js';
import { DeviceCertificates, publishDeviceCert } from '../spaces/device-cert.js';
import type { EpochActor } from '../spaces/epochs.js';
import { personKeysFromSecret, type PersonKeys } from '../spaces/person.js';
import type { OwnDevices, SpaceActor } from '../spaces/space-ops.js';

export interface TestDevice {
  readonly deviceId: string;
  readonly sign: SigningKeyPair;
  readonly box: BoxKeyPair;
}

/** Device `n` (1–255) with keys derived from n. */
export function testDevice(n: number): TestDevice {
  return {
    deviceId: bytesToHex(new Uint8Array(8).fill(n)),
    sign: signingKeyFromSeed(new Uint8Array(32).fill(n).map((b, i) => (i === 0 ? 0xd0 : b))),
    box: boxKeyFromSecret(new Uint8Array(32).fill(n).map((b, i) => (i === 0 ? 0xb0 : b))),
  };
}

/** Person `n` (1–255) with the devices numbered `devices`. */
export interface TestPerson {
  readonly keys: PersonKeys;
  readonly devices: TestDevice[];
}
export const testPerson = (n: number, devices: readonly number[]): TestPerson => ({
  keys: personKeysFromSecret(new Uint8Array(32).fill(n)),
  devices: devices.map(testDevice),
});

/** The person acting through one of their devices. */
export const actorOf = (p: TestPerson, device = p.devices[0]!): EpochActor => ({ person: p.keys, deviceId: device.deviceId, signSeed: device.sign.seed });

/** Writes the person's next certificate to a space, listing `devices` (default: all of theirs). */
export async function certify(remote: Remote, p: TestPerson, at: number, devices: readonly TestDevice[] = p.devices): Promise<number> {
  const certs = new DeviceCertificates(p.keys);
  const listed = devices.map((d) => ({ deviceId: d.deviceId, signPub: d.sign.pub, boxPub: d.box.pub }));
  const { version, written } = await publishDeviceCert(remote, certs, p.keys, listed, at);
  if (!written) throw new Error(`another device wrote certificate ${version} first`);
  return version;
}

/** The remote's calls run when the scheduler says so: every interleaving of concurrent writers' reads and writes. */
export function scheduledRemote(r: Remote, s: fc.Scheduler): Remote {
  return {
    ...r,
    get: s.scheduleFunction((key: string) => r.get(key)),
    put: s.scheduleFunction((key: string, b: Uint8Array, o?: { ifAbsent?: boolean }) => r.put(key, b, o)),
    delete: s.scheduleFunction((key: string) => r.delete(key)),
  };
}

/** The person acting through one of their devices, with the device's public keys (what spaces/space-ops.ts takes). */
export const spaceActorOf = (p: TestPerson, d = p.devices[0]!): SpaceActor => ({
  person: p.keys,
  deviceId: d.deviceId,
  signSeed: d.sign.seed,
  boxSecret: d.box.secret,
  signPub: d.sign.pub,
  boxPub: d.box.pub,
});

/** Devices as a personal vault's registry would list them. */
export const ownDevices = (devices: readonly TestDevice[]): OwnDevices =>
  devices.map((d) => ({ deviceId: d.deviceId, signPub: d.sign.pub, boxPub: d.box.pub }));
