/**
 * @module sync/registry
 * The device registry: a signed hash chain of entries under `registry/`
 * that says which keys may write to the vault and which epoch is current.
 * It is anchored in the vault header's recovery key; every entry must be
 * signed by a signer the chain admits at that point. Verified state is kept
 * in the store, so the remote can add entries but never take one back.
 */
import { bytesToHex, hexToBytes, toBase64url, fromBase64url } from '../crypto/index.js';
import { ErrorCode, KithError } from '../base/errors.js';
import {
  decodeRegistryEntry,
  encodeRegistryEntry,
  remoteKeys,
  ZERO_HASH_HEX,
  type PasswordParams,
  type RegistryChange,
  type RegistryEntry,
} from '../format/index.js';
import { putIfAbsentHolds } from '../ports/put-if-absent.js';
import type { Remote, RemoteObjectInfo } from '../ports/remote.js';

/** What the registry says about one device (JSON-safe, kept in the store). */
export interface DeviceRecord {
  name: string;
  signPub: string;
  boxPub: string;
  addedAt: number;
  addedBy: string;
  revoked?: { lastSeq: number; at: number; by: string };
}

/** The verified registry (JSON-safe, kept in the store). */
export interface RegistryState {
  /** Seq of the last verified entry (0: none yet). */
  seq: number;
  /** Hash (hex) of every verified entry, in order: hashes[seq - 1]. */
  hashes: string[];
  /** The epoch new data is written under. */
  epoch: number;
  recovery: { signPub: string; boxPub: string };
  password?: { signPub: string; boxPub: string; memoryKiB: number; iterations: number; parallelism: number; salt: string };
  devices: Record<string, DeviceRecord>;
  /**
   * Epochs opened by an entry that carries the key check (registry entry
   * version 2), by epoch: the entry's signer and the check (hex). Older
   * epochs, and epoch 0, are absent.
   */
  openings?: Record<string, { by: string; check: string }>;
}

/** Who opened an epoch, and the check its key must pass. */
export interface EpochOpening {
  readonly by: string;
  readonly check: Uint8Array;
}

export function initialRegistry(recoverySignPub: Uint8Array, recoveryBoxPub: Uint8Array): RegistryState {
  return { seq: 0, hashes: [], epoch: 0, recovery: { signPub: toBase64url(recoverySignPub), boxPub: toBase64url(recoveryBoxPub) }, devices: {} };
}

const APPEND_ATTEMPTS = 5;

/** Registry entries read ahead of the one being verified. */
const READ_AHEAD = 32;

export class DeviceRegistry {
  #s: RegistryState;
  readonly #vaultId: string;
  /** The sync or append under way: readers outside a pull (blobs) catch up concurrently with it. */
  #busy: Promise<unknown> = Promise.resolve();

  constructor(vaultId: string, state: RegistryState) {
    this.#vaultId = vaultId;
    this.#s = structuredClone(state);
  }

  get state(): RegistryState {
    return structuredClone(this.#s);
  }
  get seq(): number {
    return this.#s.seq;
  }
  get hash(): Uint8Array {
    return hexToBytes(this.#s.seq === 0 ? ZERO_HASH_HEX : this.#s.hashes[this.#s.seq - 1]!);
  }
  get epoch(): number {
    return this.#s.epoch;
  }

  /** The opening of `epoch` if its entry committed to the key (undefined: an epoch under the version 1 rules). */
  opening(epoch: number): EpochOpening | undefined {
    const o = this.#s.openings?.[epoch];
    return o && { by: o.by, check: hexToBytes(o.check) };
  }

  device(deviceId: string): DeviceRecord | undefined {
    return this.#s.devices[deviceId];
  }

  /** Every device ever added, revoked ones included. */
  devices(): [string, DeviceRecord][] {
    return Object.entries(this.#s.devices);
  }

  /** Box public keys of everyone who must receive a new epoch key. */
  recipients(): [string, Uint8Array][] {
    const out: [string, Uint8Array][] = Object.entries(this.#s.devices)
      .filter(([, d]) => !d.revoked)
      .map(([id, d]) => [id, fromBase64url(d.boxPub)]);
    out.push(['recovery', fromBase64url(this.#s.recovery.boxPub)]);
    if (this.#s.password) out.push(['password', fromBase64url(this.#s.password.boxPub)]);
    return out;
  }

  passwordParams(): (PasswordParams & { signPub: Uint8Array }) | undefined {
    const p = this.#s.password;
    return (
      p && { memoryKiB: p.memoryKiB, iterations: p.iterations, parallelism: p.parallelism, salt: fromBase64url(p.salt), signPub: fromBase64url(p.signPub) }
    );
  }

  recoverySignPub(): Uint8Array {
    return fromBase64url(this.#s.recovery.signPub);
  }

  /** Signing key of a signer the registry currently admits (not revoked). */
  signPubOf = (signer: string): Uint8Array | undefined => {
    if (signer === 'recovery') return fromBase64url(this.#s.recovery.signPub);
    if (signer === 'password') return this.#s.password && fromBase64url(this.#s.password.signPub);
    const d = this.#s.devices[signer];
    return d && !d.revoked ? fromBase64url(d.signPub) : undefined;
  };

  /** Signing key of any device ever added (for checking its segments up to its revocation). */
  deviceSignPub(deviceId: string): Uint8Array | undefined {
    const d = this.#s.devices[deviceId];
    return d && fromBase64url(d.signPub);
  }

  /** Throws KITH_REVOKED if `deviceId` has been revoked. */
  assertNotRevoked(deviceId: string): void {
    const d = this.#s.devices[deviceId];
    if (d?.revoked) {
      throw new KithError(
        ErrorCode.Revoked,
        `this device was removed from the vault (by ${d.revoked.by === 'recovery' ? 'the recovery code' : `device ${d.revoked.by}`})`,
        {
          hint: 'it can no longer read new data; set it up again from scratch: pair it from another device, or restore it with the recovery code',
          reason: 'device-revoked',
        },
      );
    }
  }

  /**
   * Fetches and verifies entries after the ones already known. Returns how
   * many were applied. `atLeast`, when given, is a registry position some
   * signed head names (the head of device `by`): the chain must reach it,
   * with the same hash. `listing`: the entries after the known ones, as
   * listed already (a newcomer lists them while it reads the header).
   */
  sync(remote: Remote, atLeast?: { seq: number; hash: Uint8Array; by?: string }, signal?: AbortSignal, listing?: Promise<RemoteObjectInfo[]>): Promise<number> {
    return this.#serial(() => this.#sync(remote, atLeast, signal, listing));
  }

  async #sync(
    remote: Remote,
    atLeast?: { seq: number; hash: Uint8Array; by?: string },
    signal?: AbortSignal,
    listing?: Promise<RemoteObjectInfo[]>,
  ): Promise<number> {
    if (atLeast && atLeast.seq <= this.#s.seq && !this.#matches(atLeast)) throw forked(atLeast.seq, atLeast.by);
    if (atLeast && atLeast.seq <= this.#s.seq) return 0;
    const opts = signal ? { signal } : {};
    const listed = await (listing ?? remote.list(remoteKeys.registryPrefix, { ...opts, after: remoteKeys.registryEntry(this.#s.seq) }));
    // Listed entries are read READ_AHEAD at a time (a round trip per window, not per entry), then verified and applied in order.
    const reads: Promise<Uint8Array | null>[] = [];
    const read = (i: number): Promise<Uint8Array | null> => {
      for (let j = reads.length; j < Math.min(listed.length, i + READ_AHEAD); j++) {
        reads.push(remote.get(listed[j]!.key, opts));
        reads[j]!.catch(() => undefined); // awaited in order below, unless an earlier entry fails first
      }
      return reads[i]!;
    };
    let applied = 0;
    for (const [i, info] of listed.entries()) {
      const seq = this.#s.seq + 1;
      if (info.key !== remoteKeys.registryEntry(seq)) throw new KithError(ErrorCode.IntegrityChain, `registry entry ${seq} is missing from the remote`);
      const bytes = await read(i);
      if (!bytes) throw new KithError(ErrorCode.IntegrityChain, `registry entry ${seq} vanished from the remote`);
      await this.applyNext(bytes);
      applied++;
    }
    if (atLeast && (this.#s.seq < atLeast.seq || !this.#matches(atLeast))) {
      if (this.#s.seq < atLeast.seq) {
        throw new KithError(
          ErrorCode.IntegrityChain,
          `the remote's device registry ends at entry ${this.#s.seq}, but ${atLeast.by ? `device ${atLeast.by}` : 'a device'} has seen entry ${atLeast.seq}`,
          {
            hint: 'registry entries were removed from the remote; restore them',
          },
        );
      }
      throw forked(atLeast.seq, atLeast.by);
    }
    return applied;
  }

  /**
   * Verifies `bytes` as the next entry (seq, chain, signature, rules) and
   * applies it; throws, changing nothing, on anything a reader must refuse.
   */
  async applyNext(bytes: Uint8Array): Promise<RegistryEntry> {
    const { entry, hash } = await decodeRegistryEntry(bytes, { vaultId: this.#vaultId, seq: this.#s.seq + 1, prevHash: this.hash }, this.signPubOf);
    this.#apply(entry, hash);
    return entry;
  }

  /**
   * Appends a change signed by `signer`, retrying at the next seq if another
   * device took this one first. Returns the entry written. `synced`: the
   * registry was just read (a restore): no listing before the first try.
   */
  append(remote: Remote, change: RegistryChange, signer: string, signerSeed: Uint8Array, at: number, o: { synced?: boolean } = {}): Promise<RegistryEntry> {
    return this.#serial(() => this.#append(remote, change, signer, signerSeed, at, o.synced === true));
  }

  async #append(remote: Remote, change: RegistryChange, signer: string, signerSeed: Uint8Array, at: number, synced: boolean): Promise<RegistryEntry> {
    for (let attempt = 0; attempt < APPEND_ATTEMPTS; attempt++) {
      // `synced`: the caller has just read the registry, so the first try goes straight to the put (an
      // entry written there since fails the read-back below, and the next try catches up first).
      if (attempt > 0 || !synced) await this.#sync(remote);
      const entry: RegistryEntry = { seq: this.#s.seq + 1, prevHash: this.hash, at, signer, change };
      this.#check(entry); // refuse locally what every reader would refuse
      const { bytes, hash } = await encodeRegistryEntry(this.#vaultId, entry, signerSeed);
      const key = remoteKeys.registryEntry(entry.seq);
      if (await putIfAbsentHolds(remote, key, bytes)) {
        this.#apply(entry, hash);
        return entry;
      }
    }
    throw new KithError(ErrorCode.RemoteUnavailable, 'could not append to the device registry: other devices kept writing at the same moment', {
      hint: 'try again',
    });
  }

  /** Runs `fn` after the sync or append under way: two of them reading the same new entry would apply it twice. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#busy.then(fn);
    this.#busy = run.catch(() => undefined);
    return run;
  }

  #matches(pos: { seq: number; hash: Uint8Array }): boolean {
    return pos.seq === 0 || pos.seq > this.#s.seq || this.#s.hashes[pos.seq - 1] === bytesToHex(pos.hash);
  }

  /** The rules every entry must follow beyond its signature. */
  #check(e: RegistryEntry): void {
    const c = e.change;
    const what = `registry entry ${e.seq}`;
    if (!this.signPubOf(e.signer)) throw new KithError(ErrorCode.IntegrityUnknownSigner, `${what} is signed by ${e.signer}, which the registry does not admit`);
    switch (c.kind) {
      case 'add':
        if (this.#s.devices[c.deviceId]) throw corruptRegistry(what, `device ${c.deviceId} is already registered`);
        break;
      case 'revoke':
        if (!this.#s.devices[c.deviceId]) throw corruptRegistry(what, `it revokes unknown device ${c.deviceId}`);
        if (this.#s.devices[c.deviceId]!.revoked) throw corruptRegistry(what, `device ${c.deviceId} is already revoked`);
        if (c.epoch !== this.#s.epoch + 1) throw corruptRegistry(what, `it starts epoch ${c.epoch} after epoch ${this.#s.epoch}`);
        break;
      case 'rename':
        if (!this.#s.devices[c.deviceId]) throw corruptRegistry(what, `it renames unknown device ${c.deviceId}`);
        break;
      case 'recovery':
        if (c.epoch !== this.#s.epoch + 1) throw corruptRegistry(what, `it starts epoch ${c.epoch} after epoch ${this.#s.epoch}`);
        break;
      case 'password':
      case 'password-remove':
        break;
    }
  }

  #apply(e: RegistryEntry, hash: Uint8Array): void {
    this.#check(e);
    const c = e.change;
    const s = this.#s;
    switch (c.kind) {
      case 'add':
        s.devices[c.deviceId] = { name: c.name, signPub: toBase64url(c.signPub), boxPub: toBase64url(c.boxPub), addedAt: e.at, addedBy: e.signer };
        break;
      case 'revoke':
        s.devices[c.deviceId]!.revoked = { lastSeq: c.lastSeq, at: e.at, by: e.signer };
        s.epoch = c.epoch;
        break;
      case 'rename':
        s.devices[c.deviceId]!.name = c.name;
        break;
      case 'recovery':
        s.recovery = { signPub: toBase64url(c.signPub), boxPub: toBase64url(c.boxPub) };
        s.epoch = c.epoch;
        break;
      case 'password':
        s.password = {
          signPub: toBase64url(c.signPub),
          boxPub: toBase64url(c.boxPub),
          memoryKiB: c.params.memoryKiB,
          iterations: c.params.iterations,
          parallelism: c.params.parallelism,
          salt: toBase64url(c.params.salt),
        };
        break;
      case 'password-remove':
        delete s.password;
        break;
    }
    if ((c.kind === 'revoke' || c.kind === 'recovery') && c.keyCheck)
      s.openings = { ...s.openings, [c.epoch]: { by: e.signer, check: bytesToHex(c.keyCheck) } };
    s.seq = e.seq;
    s.hashes.push(bytesToHex(hash));
  }
}

/** A registry entry that is well signed but breaks the registry's rules. */
function corruptRegistry(what: string, why: string): KithError {
  return new KithError(ErrorCode.IntegrityCorrupt, `${what} is invalid: ${why}`, {
    hint: 'the device registry on the remote was tampered with; restore it from a backup',
  });
}

/**
 * Two devices verified different entries at one registry position. The
 * usual cause: the remote served one of them an old state (hiding newer
 * entries, a revocation say), and that device was set up or changed the
 * registry on top of it, so what it wrote may be readable by a device
 * revoked on the other side.
 */
function forked(seq: number, by?: string): KithError {
  const who = by ? `device ${by}` : 'a device';
  return new KithError(
    ErrorCode.IntegrityChain,
    `the device registry forked at entry ${seq}: ${who} verified a different entry ${seq} than this device, so the remote served one of them an old state and a device was set up or changed on top of it`,
    {
      hint: 'the device set up on the old state (often the newest) wrote under a key a revoked device may hold: compare the device lists on both, set that device up again from scratch and treat what it wrote as exposed',
      reason: 'registry-fork',
    },
  );
}
