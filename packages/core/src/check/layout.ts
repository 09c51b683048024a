/**
 * @module check/layout
 * Sorts one listing of the whole remote by what each key may hold (see the
 * key table of docs/FORMAT.md). A key no writer of the format produces is
 * reported as foreign here, before anything is read. Every parsed key is
 * rebuilt with the format's own key functions and must come out equal, so
 * this stays in step with `remoteKeys` and `blobKeys`.
 */
import { blobKeys } from '../format/blob-format.js';
import { holdKeys } from '../blobs/holds.js';
import { ErrorCode } from '../base/errors.js';
import { remoteKeys, snapshotKeys } from '../format/index.js';
import type { RemoteObjectInfo } from '../ports/remote.js';
import { inviteExpiresKey, inviteKey, type InviteMessage } from '../spaces/invite.js';
import { membershipKey } from '../spaces/membership-entry.js';
import { deviceCertKey } from '../spaces/device-cert.js';
import { sealedIdentityKey } from '../spaces/person.js';
import { spaceEpochKey } from '../spaces/epoch-entry.js';
import { spaceHeadKey } from '../spaces/space-head.js';
import type { CheckLog } from './report.js';

export interface SealedKeyName {
  readonly key: string;
  readonly epoch: number;
  /** The epoch's keyId (`keys/<epoch>/<keyId>/<recipient>`); undefined at a version 1 place (`keys/<epoch>/<recipient>`). */
  readonly keyId: string | undefined;
  readonly recipient: string;
}

export interface RemoteLayout {
  vault: RemoteObjectInfo | undefined;
  /** seq → key, in listing order. */
  readonly registry: Map<number, string>;
  readonly keys: SealedKeyName[];
  readonly heads: Map<string, RemoteObjectInfo>;
  /** device → seq → key. */
  readonly segments: Map<string, Map<number, string>>;
  readonly manifests: Set<string>;
  readonly chunks: Set<string>;
  /** Mark key → the key of the object it marks. */
  readonly marks: Map<string, string>;
  pairing: number;
  /** Snapshot manifest keys (check/snapshots verifies them). */
  readonly snapshots: string[];
  /** Sealed person identities: recipient deviceId → key (`keys/identity/<deviceId>`). */
  readonly identities: Map<string, string>;
  /** Shared spaces hosted here, by spaceId (`spaces/<spaceId>/…`). */
  readonly spaces: Map<string, SpaceLayout>;
  /** Invite messages and expiries, by their folder (`invites/<inviteId>`, or `spaces/<spaceId>/invites/<inviteId>`). */
  readonly invites: Map<string, Map<InviteMessage | 'expires', RemoteObjectInfo>>;
}

export interface SpaceLayout {
  /** Membership entries: seq → key. */
  readonly members: Map<number, string>;
  /** Device certificates: personId → version → key. */
  readonly certificates: Map<string, Map<number, string>>;
  /** Key epoch entries: epoch → key. */
  readonly epochs: Map<number, string>;
  /** The space's sealed epoch keys (`keys/<epoch>/<keyId>/<deviceId>` under its root). */
  readonly keys: SpaceKeyName[];
  /** Heads of the devices writing to the space: deviceId → key. */
  readonly heads: Map<string, string>;
  /** Segments: deviceId → seq → key. */
  readonly segments: Map<string, Map<number, string>>;
  /** Blob manifests and chunks under the space's root (`blobs/manifests|chunks/<id>`): id → listing. */
  readonly manifests: Map<string, RemoteObjectInfo>;
  readonly chunks: Map<string, RemoteObjectInfo>;
}

export interface SpaceKeyName {
  readonly key: string;
  readonly epoch: number;
  readonly keyId: string;
  readonly deviceId: string;
}

/** The root of a shared space on a folder or bucket (docs/FORMAT.md "Spaces"). */
export const spaceRoot = (spaceId: string): string => `spaces/${spaceId}/`;

const DEVICE = '[0-9a-f]{16}';
const BLOB_ID = '[0-9a-f]{64}';
const PATTERNS = {
  registry: /^registry\/(\d{12})$/,
  key: new RegExp(`^keys/(\\d{10})/(?:([0-9a-f]{16})/)?(recovery|password|previous|${DEVICE})$`),
  head: new RegExp(`^heads/(${DEVICE})$`),
  segment: new RegExp(`^segments/(${DEVICE})/(\\d{12})$`),
  manifest: new RegExp(`^blobs/manifests/(${BLOB_ID})$`),
  chunk: new RegExp(`^blobs/chunks/(${BLOB_ID})$`),
  mark: new RegExp(`^blobs/gc/([mc])-(${BLOB_ID})$`),
  pairing: /^pairing\/([0-9a-f]{12})\/(offer|join|done)$/,
  identity: new RegExp(`^keys/identity/(recovery|password|${DEVICE})$`),
  member: /^spaces\/([0-9a-f]{32})\/(members\/(\d{12}))$/,
  certificate: /^spaces\/([0-9a-f]{32})\/(people\/([0-9a-f]{32})\/devices\/(\d{12}))$/,
  epoch: /^spaces\/([0-9a-f]{32})\/(epochs\/(\d{10}))$/,
  spaceKey: new RegExp(`^spaces/([0-9a-f]{32})/(keys/(\\d{10})/([0-9a-f]{16})/(${DEVICE}))$`),
  spaceHead: new RegExp(`^spaces/([0-9a-f]{32})/(heads/(${DEVICE}))$`),
  spaceSegment: new RegExp(`^spaces/([0-9a-f]{32})/(segments/(${DEVICE})/(\\d{12}))$`),
  spaceBlob: new RegExp(`^spaces/([0-9a-f]{32})/(blobs/(manifests|chunks)/(${BLOB_ID}))$`),
  // Invites at the remote's root (the first layer's place) or under a space's root (where the invite code's URL points).
  invite: /^(?:spaces\/[0-9a-f]{32}\/)?invites\/([0-9a-f]{12})\/(offer|answer|done|expires)$/,
};

/** Sorts `listing` into a layout; reports keys that fit nowhere as foreign. */
export function sortListing(listing: readonly RemoteObjectInfo[], log: CheckLog): RemoteLayout {
  const l: RemoteLayout = {
    vault: undefined,
    registry: new Map(),
    keys: [],
    heads: new Map(),
    segments: new Map(),
    manifests: new Set(),
    chunks: new Set(),
    marks: new Map(),
    pairing: 0,
    snapshots: [],
    identities: new Map(),
    spaces: new Map(),
    invites: new Map(),
  };
  for (const info of listing) {
    const key = info.key;
    if (!place(l, info)) {
      log.add(
        'foreign',
        key,
        ErrorCode.ForeignObject,
        'no Kith device writes an object under this key',
        'it was put there by something else; if it is not yours, delete it',
      );
    }
  }
  return l;
}

function place(l: RemoteLayout, info: RemoteObjectInfo): boolean {
  const key = info.key;
  if (key === remoteKeys.vault) return ((l.vault = info), true);
  let m: RegExpExecArray | null;
  if ((m = PATTERNS.registry.exec(key))) {
    const seq = Number(m[1]);
    return seq >= 1 && remoteKeys.registryEntry(seq) === key && (l.registry.set(seq, key), true);
  }
  if ((m = PATTERNS.key.exec(key))) {
    const [epoch, keyId, recipient] = [Number(m[1]), m[2], m[3]!];
    return remoteKeys.sealedKey(epoch, recipient, keyId) === key && (l.keys.push({ key, epoch, keyId, recipient }), true);
  }
  if ((m = PATTERNS.head.exec(key))) return remoteKeys.head(m[1]!) === key && (l.heads.set(m[1]!, info), true);
  if ((m = PATTERNS.segment.exec(key))) {
    const seq = Number(m[2]);
    if (seq < 1 || remoteKeys.segment(m[1]!, seq) !== key) return false;
    let bySeq = l.segments.get(m[1]!);
    if (!bySeq) l.segments.set(m[1]!, (bySeq = new Map()));
    bySeq.set(seq, key);
    return true;
  }
  if ((m = PATTERNS.manifest.exec(key))) return blobKeys.manifest(m[1]!) === key && (l.manifests.add(m[1]!), true);
  if ((m = PATTERNS.chunk.exec(key))) return blobKeys.chunk(m[1]!) === key && (l.chunks.add(m[1]!), true);
  if ((m = PATTERNS.mark.exec(key))) {
    if (blobKeys.gcMark(`${m[1]}-${m[2]}`) !== key) return false;
    l.marks.set(key, m[1] === 'm' ? blobKeys.manifest(m[2]!) : blobKeys.chunk(m[2]!));
    return true;
  }
  if (holdKeys.parse(key)) return true; // a device's hold on a blob (blobs/holds.ts): GC's concern only
  const snapshot = snapshotKeys.parse(key);
  if (snapshot) return snapshotKeys.of(snapshot.at, snapshot.deviceId) === key && (l.snapshots.push(key), true);
  if ((m = PATTERNS.pairing.exec(key))) return remoteKeys.pairing(m[1]!, m[2] as 'offer') === key && (l.pairing++, true);
  return placeSpaceObject(l, info);
}

/** The objects of shared spaces (FORMAT.md "Person identity" to "Invite"). */
function placeSpaceObject(l: RemoteLayout, info: RemoteObjectInfo): boolean {
  const key = info.key;
  let m: RegExpExecArray | null;
  if ((m = PATTERNS.identity.exec(key))) return sealedIdentityKey(m[1]!) === key && (l.identities.set(m[1]!, key), true);
  if ((m = PATTERNS.member.exec(key))) {
    const seq = Number(m[3]);
    return seq >= 1 && membershipKey(seq) === m[2] && (space(l, m[1]!).members.set(seq, key), true);
  }
  if ((m = PATTERNS.certificate.exec(key))) {
    const [person, version] = [m[3]!, Number(m[4])];
    if (version < 1 || deviceCertKey(person, version) !== m[2]) return false;
    const certs = space(l, m[1]!).certificates;
    let byVersion = certs.get(person);
    if (!byVersion) certs.set(person, (byVersion = new Map()));
    byVersion.set(version, key);
    return true;
  }
  if ((m = PATTERNS.epoch.exec(key))) return spaceEpochKey(Number(m[3])) === m[2] && (space(l, m[1]!).epochs.set(Number(m[3]), key), true);
  if ((m = PATTERNS.spaceKey.exec(key))) {
    const [epoch, keyId, deviceId] = [Number(m[3]), m[4]!, m[5]!];
    return remoteKeys.sealedKey(epoch, deviceId, keyId) === m[2] && (space(l, m[1]!).keys.push({ key, epoch, keyId, deviceId }), true);
  }
  if ((m = PATTERNS.spaceHead.exec(key))) return spaceHeadKey(m[3]!) === m[2] && (space(l, m[1]!).heads.set(m[3]!, key), true);
  if ((m = PATTERNS.spaceSegment.exec(key))) {
    const [deviceId, seq] = [m[3]!, Number(m[4])];
    if (seq < 1 || remoteKeys.segment(deviceId, seq) !== m[2]) return false;
    const segments = space(l, m[1]!).segments;
    let bySeq = segments.get(deviceId);
    if (!bySeq) segments.set(deviceId, (bySeq = new Map()));
    bySeq.set(seq, key);
    return true;
  }
  if ((m = PATTERNS.spaceBlob.exec(key))) {
    const manifest = m[3] === 'manifests';
    if ((manifest ? blobKeys.manifest(m[4]!) : blobKeys.chunk(m[4]!)) !== m[2]) return false;
    const s = space(l, m[1]!);
    (manifest ? s.manifests : s.chunks).set(m[4]!, info);
    return true;
  }
  if ((m = PATTERNS.invite.exec(key))) {
    const message = m[2] as InviteMessage | 'expires';
    if (!key.endsWith(message === 'expires' ? inviteExpiresKey(m[1]!) : inviteKey(m[1]!, message))) return false;
    const folder = key.slice(0, key.lastIndexOf('/'));
    let messages = l.invites.get(folder);
    if (!messages) l.invites.set(folder, (messages = new Map()));
    messages.set(message, info);
    return true;
  }
  return false;
}

function space(l: RemoteLayout, spaceId: string): SpaceLayout {
  let s = l.spaces.get(spaceId);
  if (!s)
    l.spaces.set(
      spaceId,
      (s = {
        members: new Map(),
        certificates: new Map(),
        epochs: new Map(),
        keys: [],
        heads: new Map(),
        segments: new Map(),
        manifests: new Map(),
        chunks: new Map(),
      }),
    );
  return s;
}
