/**
 * @module spaces/device-cert
 * `people/<personId>/devices/<version>` in a space: the devices a person
 * admits, signed by the person's identity key (type `D`). Versions form a
 * hash chain like the registry, so a remote can neither roll a person back
 * to a certificate that still lists a revoked device nor fork it. The
 * signature binds the personId, not a space: the same bytes are valid in
 * every space the person belongs to, and any of their devices copies a new
 * version there with no other member's action. See docs/FORMAT.md
 * "Device certificate".
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { bytesEqual, sha256 } from '../crypto/index.js';
import { ObjectReader, ObjectType, ObjectWriter, corrupt } from '../format/framing.js';
import { putIfAbsentHolds } from '../ports/put-if-absent.js';
import type { Remote } from '../ports/remote.js';
import { isPersonConsistent, type PersonKeys, type PersonPublic } from './person.js';

export const DEVICE_CERT_DOMAIN = 'kith/v1/device-cert';
/** Most devices one certificate lists. */
export const MAX_CERT_DEVICES = 1024;

export interface CertifiedDevice {
  readonly deviceId: string;
  readonly signPub: Uint8Array;
  readonly boxPub: Uint8Array;
}

export interface DeviceCertificate {
  readonly personId: string;
  readonly version: number;
  readonly prevHash: Uint8Array;
  readonly at: number;
  /** In ascending deviceId order. */
  readonly devices: readonly CertifiedDevice[];
}

export const deviceCertKey = (personId: string, version: number): string => `people/${personId}/devices/${String(version).padStart(12, '0')}`;

export async function encodeDeviceCert(c: DeviceCertificate, person: PersonKeys): Promise<{ bytes: Uint8Array; hash: Uint8Array }> {
  if (c.personId !== person.personId) throw new KithError(ErrorCode.Internal, 'a certificate is signed by its own person');
  if (c.devices.length > MAX_CERT_DEVICES) throw new KithError(ErrorCode.TooLarge, `a person may certify at most ${MAX_CERT_DEVICES} devices`);
  const devices = [...c.devices].sort((a, b) => (a.deviceId < b.deviceId ? -1 : 1));
  if (devices.some((d, i) => i > 0 && d.deviceId === devices[i - 1]!.deviceId)) throw new KithError(ErrorCode.Internal, 'a device is certified twice');
  const w = new ObjectWriter(ObjectType.Device).hex(c.personId, 16).u64(c.version).bytes(c.prevHash).u64(c.at).u32(devices.length);
  for (const d of devices) w.hex(d.deviceId, 8).bytes(d.signPub).bytes(d.boxPub);
  const bytes = await w.sign(DEVICE_CERT_DOMAIN, c.personId, person.sign.seed);
  return { bytes, hash: await sha256(bytes) };
}

/** Decodes version `expect.version` of `person`'s certificate and checks its place in their chain and the person's signature. */
export async function decodeDeviceCert(
  bytes: Uint8Array,
  person: PersonPublic,
  expect: { readonly version: number; readonly prevHash: Uint8Array },
): Promise<{ cert: DeviceCertificate; hash: Uint8Array }> {
  const what = `device certificate ${expect.version} of ${person.personId}`;
  const r = new ObjectReader(bytes, what, ObjectType.Device);
  const personId = r.hex(16);
  if (personId !== person.personId) throw corrupt(what, `it certifies ${personId}`);
  const version = r.u64();
  const prevHash = r.take(32).slice();
  if (version !== expect.version)
    throw new KithError(ErrorCode.IntegrityChain, `${what} holds version ${version}: the certificates were reordered or replayed`);
  if (!bytesEqual(prevHash, expect.prevHash)) throw new KithError(ErrorCode.IntegrityChain, `${what} does not follow version ${version - 1}: it was altered`);
  const at = r.u64();
  const n = r.u32();
  if (n > MAX_CERT_DEVICES) throw corrupt(what, 'too many devices');
  const devices: CertifiedDevice[] = [];
  for (let i = 0; i < n; i++) {
    const d = { deviceId: r.hex(8), signPub: r.take(32).slice(), boxPub: r.take(32).slice() };
    if (i > 0 && d.deviceId <= devices[i - 1]!.deviceId) throw corrupt(what, 'devices are not in strictly ascending order');
    devices.push(d);
  }
  await r.verify(DEVICE_CERT_DOMAIN, person.personId, person.signPub);
  return { cert: { personId, version, prevHash, at, devices }, hash: await sha256(bytes) };
}

/** One person's verified certificates, version 1 on. */
export class DeviceCertificates {
  readonly #certs: DeviceCertificate[] = [];
  readonly #hashes: Uint8Array[] = [];
  constructor(readonly person: PersonPublic) {
    if (!isPersonConsistent(person)) throw new KithError(ErrorCode.BadInput, 'the person’s id does not match their key');
  }

  get version(): number {
    return this.#certs.length;
  }
  get hash(): Uint8Array {
    return this.#hashes[this.#hashes.length - 1] ?? new Uint8Array(32);
  }
  /** The certificate at `version` (default: the newest). */
  at(version = this.version): DeviceCertificate | undefined {
    return this.#certs[version - 1];
  }

  /** The hash of the certificate at `version` (32 zero bytes for version 0, none yet), if verified. */
  hashAt(version: number): Uint8Array | undefined {
    return version === 0 ? new Uint8Array(32) : this.#hashes[version - 1];
  }

  /** The device's keys if `deviceId` is a device of the person at certificate `version`, else undefined. */
  deviceAt(deviceId: string, version: number): CertifiedDevice | undefined {
    return this.at(version)?.devices.find((d) => d.deviceId === deviceId);
  }

  /** True when some verified version lists `deviceId` (a device the person dropped stays theirs: its old objects name it). */
  listsEver(deviceId: string): boolean {
    return this.#certs.some((c) => c.devices.some((d) => d.deviceId === deviceId));
  }

  /** Verifies the next version and keeps it. */
  async accept(bytes: Uint8Array): Promise<DeviceCertificate> {
    const { cert, hash } = await decodeDeviceCert(bytes, this.person, { version: this.version + 1, prevHash: this.hash });
    this.#certs.push(cert);
    this.#hashes.push(hash);
    return cert;
  }

  /** Reads and verifies the versions after the newest known one from the space's remote. */
  async refresh(remote: Remote): Promise<void> {
    for (let bytes; (bytes = await remote.get(deviceCertKey(this.person.personId, this.version + 1)));) await this.accept(bytes);
  }

  /** Refuses the chain if it ends before, or differs at, a version verified before. */
  checkPin(pin: { readonly version: number; readonly hash: Uint8Array }): void {
    if (pin.version > this.version) {
      throw new KithError(
        ErrorCode.IntegrityRollback,
        `the device certificates of ${this.person.personId} end at version ${this.version}, before version ${pin.version} seen earlier`,
      );
    }
    if (pin.version > 0 && !bytesEqual(this.#hashes[pin.version - 1]!, pin.hash)) {
      throw new KithError(ErrorCode.IntegrityChain, `device certificate ${pin.version} of ${this.person.personId} differs from the one seen earlier`);
    }
  }
}

/**
 * Writes the next version of `person`'s certificate, listing `devices`, to
 * a space's remote (put-if-absent, read back). A lost race (another device
 * of the same person wrote that version) is reported, not overwritten: the
 * caller refreshes and decides again.
 */
export async function publishDeviceCert(
  remote: Remote,
  certs: DeviceCertificates,
  person: PersonKeys,
  devices: readonly CertifiedDevice[],
  at: number,
): Promise<{ version: number; written: boolean }> {
  await certs.refresh(remote);
  const version = certs.version + 1;
  const { bytes } = await encodeDeviceCert({ personId: person.personId, version, prevHash: certs.hash, at, devices }, person);
  const key = deviceCertKey(person.personId, version);
  const written = await putIfAbsentHolds(remote, key, bytes);
  await certs.refresh(remote);
  return { version, written };
}

/**
 * Another person than `personId` whose verified certificates (any version)
 * list `deviceId`, among `persons` (everyone the membership chain names), or
 * undefined. Nothing stops a person from certifying someone else's deviceId;
 * the relay refuses such a certificate, and readers refuse the device's
 * objects (see {@link assertDeviceOfOne}).
 */
export function otherCertifier(
  persons: Iterable<string>,
  certsOf: (personId: string) => DeviceCertificates | undefined,
  personId: string,
  deviceId: string,
): string | undefined {
  for (const p of persons) if (p !== personId && certsOf(p)?.listsEver(deviceId)) return p;
  return undefined;
}

/**
 * The reader's rule for a deviceId two persons certify (docs/FORMAT.md
 * "Device certificate"): objects at that device's paths are refused
 * whichever person they name (KITH_INTEGRITY_UNKNOWN_SIGNER, reason
 * `shared-device`). No order between two persons' certificates is signed
 * by anyone both answer to, so "the first to list it" is not something a
 * reader can tell; refusing both is the one rule every reader applies alike.
 */
export function assertDeviceOfOne(
  persons: Iterable<string>,
  certsOf: (personId: string) => DeviceCertificates | undefined,
  personId: string,
  deviceId: string,
): void {
  const other = otherCertifier(persons, certsOf, personId, deviceId);
  if (other === undefined) return;
  throw new KithError(ErrorCode.IntegrityUnknownSigner, `device ${deviceId} is certified by two persons of the space, ${personId} and ${other}`, {
    hint: 'its objects are refused whoever they name; an admin should remove the person who certified a device not theirs',
    reason: 'shared-device',
  });
}
