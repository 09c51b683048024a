/**
 * A shared space on a relay, made the way devices make one (through relay
 * remotes signed in as people and devices): alice founds it (admin), bob
 * is a writer and carol a reader, one device each, every person certified
 * and epoch 0 sealed to every device. Plus raw HTTP for forged requests.
 */
import { ErrorCode, KithError, type Remote, type RemoteDeviceKey } from '@kith/core/adapter';
import { generateDeviceKeys, remoteDeviceKey, type DeviceKeys } from '@kith/core/relay';
import {
  appendMembership,
  createSpace,
  DeviceCertificates,
  personKeysFromSecret,
  publishDeviceCert,
  shareEpochKey,
  spaceIdOf,
  SpaceState,
  startEpoch,
  type PersonKeys,
} from '@kith/core/spaces';
import { openRelayRemote, parseRelayUrl, relayDeviceAuth, type RelayRemote } from '@kith/relay';

const random = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));
export const deps = { random, now: () => Date.now() };

export interface TestPerson {
  readonly keys: PersonKeys;
  readonly device: DeviceKeys;
}

export function testPerson(): TestPerson {
  return { keys: personKeysFromSecret(random(32)), device: generateDeviceKeys(random) };
}

export interface RelaySpace {
  readonly spaceId: string;
  /** `relayUrl/<spaceId>` */
  readonly url: string;
  readonly alice: TestPerson;
  readonly bob: TestPerson;
  readonly carol: TestPerson;
  readonly epoch0Key: Uint8Array;
  /** The key `p` lends a remote of this space: its device's, or its person's. */
  key(p: TestPerson, as?: 'device' | 'person'): RemoteDeviceKey;
  /** A relay remote of the space signed in as `p` (on `relayUrl`, default the one it was made on). */
  remote(p: TestPerson, as?: 'device' | 'person', relayUrl?: string): RelayRemote;
  /** A fresh view of the space read through `remote`. */
  state(remote: Remote): Promise<SpaceState>;
}

export const personKey = (spaceId: string, p: TestPerson): RemoteDeviceKey => remoteDeviceKey(spaceId, `person:${p.keys.personId}`, p.keys.sign.seed);

export const certified = (p: TestPerson) => [{ deviceId: p.device.deviceId, signPub: p.device.sign.pub, boxPub: p.device.box.pub }];

/** Publishes `p`'s next certificate listing `devices` (default: its device). */
export async function certify(remote: Remote, p: TestPerson, devices = certified(p)): Promise<void> {
  const { written } = await publishDeviceCert(remote, new DeviceCertificates(p.keys), p.keys, devices, Date.now());
  if (!written) throw new Error('another certificate took the version');
}

export const actorOf = (p: TestPerson) => ({ person: p.keys, deviceId: p.device.deviceId, signSeed: p.device.sign.seed });

export async function relaySpace(relayUrl: string, o: { inviteToken?: string } = {}): Promise<RelaySpace> {
  const [alice, bob, carol] = [testPerson(), testPerson(), testPerson()];
  const nonce = random(16);
  const spaceId = spaceIdOf(alice.keys.signPub, nonce);
  const key = (p: TestPerson, as: 'device' | 'person' = 'device'): RemoteDeviceKey =>
    as === 'person' ? personKey(spaceId, p) : remoteDeviceKey(spaceId, p.device.deviceId, p.device.sign.seed);
  const remote = (p: TestPerson, as: 'device' | 'person' = 'device', base = relayUrl): RelayRemote => {
    const r = openRelayRemote(`${base}/${spaceId}`, { ...(o.inviteToken !== undefined ? { inviteToken: o.inviteToken } : {}), pollMs: 3_600_000 });
    r.useDeviceKey(key(p, as));
    return r;
  };
  // The founder signs in as its person before entry 1 exists, writes it and its certificate.
  const founder = remote(alice, 'person');
  const m = await createSpace(founder, alice.keys, { random: () => nonce, now: deps.now });
  await certify(founder, alice);
  const a = remote(alice);
  const s = await new SpaceState(m.spaceId).refresh(a);
  const first = await startEpoch(a, { m: s.m, epochs: s.epochs, certs: s.certs, actor: actorOf(alice), lastSeqOf: async () => 0 }, deps);
  await appendMembership(a, s.m, alice.keys, { kind: 'add', person: bob.keys, role: 'writer' }, deps);
  await appendMembership(a, s.m, alice.keys, { kind: 'add', person: carol.keys, role: 'reader' }, deps);
  for (const p of [bob, carol]) {
    const r = remote(p, 'person');
    await certify(r, p);
    await r.close();
  }
  await s.refresh(a);
  await shareEpochKey(a, { m: s.m, epochs: s.epochs, certs: s.certs, epochKey: first.epochKey!, actor: actorOf(alice) }, deps);
  await founder.close();
  await a.close();
  return {
    spaceId,
    url: `${relayUrl}/${spaceId}`,
    alice,
    bob,
    carol,
    epoch0Key: first.epochKey!,
    key,
    remote,
    state: (r) => new SpaceState(spaceId).refresh(r),
  };
}

/** A bearer token for `key` on the vault at `url`, or the KithError the relay answered. */
export async function tokenFor(url: string, key: RemoteDeviceKey): Promise<string> {
  return (await relayDeviceAuth(parseRelayUrl(url), key).headers())['authorization']!.slice('Bearer '.length);
}

/** The code a sign-in is refused with. */
export async function signInRefusal(url: string, key: RemoteDeviceKey): Promise<string> {
  try {
    await tokenFor(url, key);
  } catch (e) {
    if (KithError.is(e)) return e.code;
    throw e;
  }
  return 'signed in';
}

/** One raw request: its status and the JSON error code, if any. */
export async function call(
  method: string,
  url: string,
  o: { token?: string; body?: Uint8Array; headers?: Record<string, string> } = {},
): Promise<{ status: number; code?: string; bytes: Uint8Array }> {
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream', ...o.headers };
  if (o.token) headers['authorization'] = `Bearer ${o.token}`;
  const res = await fetch(url, { method, headers, ...(o.body !== undefined ? { body: o.body as BodyInit } : {}) });
  const bytes = new Uint8Array(await res.arrayBuffer());
  let code: string | undefined;
  try {
    code = (JSON.parse(new TextDecoder().decode(bytes)) as { code?: string }).code;
  } catch {
    // not JSON
  }
  return { status: res.status, bytes, ...(code !== undefined ? { code } : {}) };
}

/** The URL of an object of the vault at `url` (`relay/<name>`). */
export const objectUrl = (url: string, key: string): string => url.replace(/\/([^/]+)$/, '/v1/vaults/$1/objects/') + key;
export const watchUrl = (url: string): string => url.replace(/\/([^/]+)$/, '/v1/vaults/$1/watch').replace(/^http/, 'ws');

export const isCode = (code: ErrorCode) => (e: unknown) => KithError.is(e) && e.code === code;
