/**
 * @module check/report
 * What `vault.check()` answers, and the collector the checks fill in.
 */
import { ErrorCode, KithError } from '../base/errors.js';

/**
 * - `missing`: something the vault needs is not on the remote (a segment a
 *   head names, a chunk a manifest lists, a registry entry a device saw, a
 *   membership entry, device certificate or space epoch later ones follow,
 *   a space's epoch key sealed to a device the epoch reached).
 * - `damaged`: the object is there but fails verification.
 * - `unreferenced`: a valid object nothing refers to (an interrupted push or
 *   upload, a stale GC mark); harmless, collected or completed later.
 * - `foreign`: an object no valid writer of this vault could have written
 *   (an unknown key, a signer the registry never admitted or had revoked, a
 *   space's epoch key sealed to a device of none of its members).
 */
export type CheckProblemKind = 'missing' | 'damaged' | 'unreferenced' | 'foreign';

/** One thing wrong with one remote object. */
export interface CheckProblem {
  readonly kind: CheckProblemKind;
  /** The remote key concerned (for `missing`, the key where the object should be). */
  readonly key: string;
  /** A stable `KITH_*` code. */
  readonly code: ErrorCode;
  /** One line: what is wrong. */
  readonly message: string;
  /** One line: what to do about it. */
  readonly hint: string;
}

/** How many objects of each kind were verified (read and checked). */
export interface CheckCounts {
  /** Every object the listing showed. */
  objects: number;
  vault: number;
  registry: number;
  keys: number;
  heads: number;
  segments: number;
  manifests: number;
  /** Chunks found in the listing; read and decrypted only with `readData`. */
  chunks: number;
  /** Chunks read and verified (0 without `readData`). */
  chunksRead: number;
  marks: number;
  /** Pairing messages (short-lived; sealed under a one-time code, so only their names are checked). */
  pairing: number;
  // The spaces' objects: each count is present only when the remote holds objects of its kind.
  /** Person identities sealed to this vault's devices (`keys/identity/<deviceId>`). */
  identities?: number;
  /** Membership entries of the shared spaces hosted on the remote. */
  members?: number;
  /** Device certificates in those spaces. */
  certificates?: number;
  /** Key epoch entries of those spaces (present when some space has epochs or sealed keys). */
  epochs?: number;
  /** Epoch keys sealed under those spaces' roots (`keys/<epoch>/<keyId>/<deviceId>`), addressing and signature verified. */
  spaceKeys?: number;
  /** Heads of devices in those spaces (signature and the membership and epoch positions they name). */
  spaceHeads?: number;
  /** Segments in those spaces: name, writer's right, signature and chain (not decrypted: no device of the vault need hold the space's key). */
  spaceSegments?: number;
  /** Blob manifests and chunks in those spaces whose names, sizes and headers (type, id, epoch) verified; manifests also opened where this device holds the key. */
  spaceBlobs?: number;
  /** Invite messages (sealed under the invite code, so only their names, sizes and which of them remain are checked). */
  invites?: number;
}

/** A chain position verified before: a chain on the remote that ends before it is a rollback, another object at its seq a fork. */
export interface CheckPin {
  readonly seq: number;
  readonly hash: Uint8Array;
}

/** What this device verified before in one shared space. */
export interface CheckSpacePins {
  /** The membership entry (seq, hash) verified before. */
  readonly members?: CheckPin;
  /** personId → the device certificate (version, hash) verified before. */
  readonly certificates?: ReadonlyMap<string, CheckPin>;
  /** The key epochs verified before: seq is the number of epochs (SpaceEpochs.pin.count), hash the last one's. */
  readonly epochs?: CheckPin;
}

export interface CheckReport {
  /** No problem of any kind. */
  readonly ok: boolean;
  readonly readData: boolean;
  readonly checked: CheckCounts;
  /** In the order found: vault, registry, keys, heads and segments, blobs (then the spaces' identities, spaces and invites), other objects. */
  readonly problems: CheckProblem[];
}

export interface CheckProgress {
  /** Objects read so far. */
  readonly done: number;
  /** Objects to read in all (known after the listing). */
  readonly total: number;
}

export interface CheckOptions {
  /** Also read and verify every blob chunk (one read per chunk; the costly part). */
  readonly readData?: boolean;
  readonly signal?: AbortSignal;
  /** Called after each object read. */
  readonly onProgress?: (p: CheckProgress) => void;
  /** spaceId → the chain positions this device verified in that space: the chains on the remote must reach them with the same hashes. */
  readonly spaces?: ReadonlyMap<string, CheckSpacePins>;
}

/** Problems and counts as the checks find them. */
export class CheckLog {
  readonly problems: CheckProblem[] = [];
  readonly #reported = new Set<string>();
  readonly counts: CheckCounts = {
    objects: 0,
    vault: 0,
    registry: 0,
    keys: 0,
    heads: 0,
    segments: 0,
    manifests: 0,
    chunks: 0,
    chunksRead: 0,
    marks: 0,
    pairing: 0,
  };

  add(kind: CheckProblemKind, key: string, code: ErrorCode, message: string, hint: string): void {
    // One object is reported once per kind: a broken segment is not also "not the one its head names".
    const id = `${kind} ${key}`;
    if (this.#reported.has(id)) return;
    this.#reported.add(id);
    this.problems.push({ kind, key, code, message, hint });
  }

  /** Reports a verification failure: an unknown or revoked signer is `foreign`, anything else `damaged`. */
  failed(key: string, e: unknown, fallbackHint: string): void {
    if (!(e instanceof KithError) || e.code === ErrorCode.Aborted || e.code === ErrorCode.RemoteUnavailable || e.code === ErrorCode.RemoteAuth) throw e;
    const kind: CheckProblemKind = e.code === ErrorCode.IntegrityUnknownSigner || e.code === ErrorCode.Revoked ? 'foreign' : 'damaged';
    this.add(kind, key, e.code, e.message, e.hint ?? fallbackHint);
  }

  has(kind: CheckProblemKind, key: string): boolean {
    return this.#reported.has(`${kind} ${key}`);
  }

  report(readData: boolean): CheckReport {
    return { ok: this.problems.length === 0, readData, checked: { ...this.counts }, problems: [...this.problems] };
  }
}
