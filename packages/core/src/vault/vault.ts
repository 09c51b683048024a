/**
 * @module vault
 * The Vault: Kith's public API. Writes go to the local store in one
 * transaction and return; the network only moves ciphertext, on `push`,
 * `pull`, `sync` or auto-sync.
 *
 * @example
 * const { vault, recoveryCode } = await Vault.create({ store, remote, remoteUrl });
 * await vault.put('notes', 'n1', { title: 'Hello' });
 * await vault.sync();
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { systemDeps, type Deps } from '../base/deps.js';
import { checkFields, copyFields, orderedFields, type JsonObject } from '../model/json.js';
import { checkCollection, checkNewRecordId, checkRecordId } from '../model/names.js';
import { HybridClock } from '../model/hlc.js';
import { applyOp, conflictCount, conflictsOf, viewOf, type RecordView } from '../model/merge.js';
import { deleteOp, patchOp, putOp, resolveOp } from '../model/local-writes.js';
import type { Op } from '../model/ops.js';
import type { Remote } from '../ports/remote.js';
import { canWatch, lendDeviceKey } from '../ports/capabilities.js';
import { remoteDeviceKey } from '../identity/remote-auth.js';
import type { FieldFilter, LogEntry, RecordRow, Store, StoreTx } from '../ports/store.js';
import { encodeVaultHeader, remoteKeys, type RegistryChange } from '../format/index.js';
import {
  bytesEqual,
  bytesToHex,
  checkPassword,
  generateDeviceKeys,
  generateRecoveryCode,
  newArgon2Params,
  newEpochKey,
  newVaultId,
  parseRecoveryCode,
  passwordKeys,
  recoveryKeys,
  sha256,
  toBase64url,
  type BoxKeyPair,
  type SigningKeyPair,
} from '../crypto/index.js';
import { isIntegrityError } from '../base/errors.js';
import { ViewSet, logEntryOf } from '../sync/apply.js';
import type { EngineContext } from '../sync/context.js';
import { META, b64, readMeta, requireVault, unb64, writeMeta, type Cursor, type DeviceMeta, type StatusMeta, type VaultMeta } from '../ports/store-meta.js';
import { DeviceRegistry, initialRegistry, type RegistryState } from '../identity/registry.js';
import { loadEpochKey, openSealedKey, publishEpoch, sealCurrentEpochTo, sealerOf, sealTo } from '../identity/epochs.js';
import { catchUpRegistry } from '../sync/catch-up.js';
import { sealEpochValue, sealSecrets, unsealSecrets } from '../identity/local-keys.js';
import { catchUpWithHeads, readHeaderAndRegistry, readVault, joinedState, persistJoined, checkDeviceName, unknownDevice, refuseExistingVault, type JoinedState } from '../identity/join.js';
import { invitePairing, joinPairing } from '../identity/pairing.js';
import { push as pushSegments } from '../sync/push.js';
import { Blobs, refsIn } from '../blobs/blobs.js';
import { pull } from '../sync/pull.js';
import { checkStaleAfter, deviceStatuses, remoteWarnings } from '../sync/staleness.js';
import type { SyncWarning } from '../base/warnings.js';
import { checkRemote, type CheckOptions, type CheckReport } from '../check/index.js';
import type {
  BatchWriter,
  Conflict,
  CreateVaultOptions,
  DeviceInfo,
  Doc,
  JoinOptions,
  ListPage,
  ListQuery,
  PairOptions,
  Resolution,
  RestoreVaultOptions,
  StoredVaultConfig,
  SyncResult,
  VaultEvents,
  VaultOptions,
  VaultStatus,
} from './vault-types.js';

type Write =
  | { kind: 'put'; collection: string; id: string; fields: JsonObject }
  | { kind: 'patch'; collection: string; id: string; fields: JsonObject }
  | { kind: 'delete'; collection: string; id: string };

type Listener<E extends keyof VaultEvents> = (e: VaultEvents[E]) => void;


export class Vault {
  readonly vaultId: string;
  readonly deviceId: string;
  readonly #store: Store;
  readonly #remote: Remote;
  readonly #deps: Deps;
  readonly #ctx: EngineContext;
  readonly #listeners = new Map<keyof VaultEvents, Set<Listener<keyof VaultEvents>>>();
  readonly #autoSyncs = new Set<{ stop(): Promise<void> }>();
  /** Serializes push/pull of this instance (other processes are safe through the store). */
  #syncing: Promise<unknown> = Promise.resolve();

  /** Attachments: `vault.blobs.put(bytes | stream)` → a ref to store in a record; `vault.blobs.get(ref)` → a stream. */
  readonly blobs: Blobs;

  /** Seals epoch keys written to the store when the device's secrets are passphrase-protected. */
  #localKey: Uint8Array | undefined;

  #warnings: readonly SyncWarning[] = [];

  private constructor(store: Store, remote: Remote, o: Pick<VaultOptions, 'blobCache' | 'staleAfterMs'>, deps: Deps, j: Omit<JoinedState, 'caughtUp'>, localKey?: Uint8Array) {
    this.#localKey = localKey;
    this.vaultId = j.vault.vaultId;
    this.deviceId = j.device.deviceId;
    this.#store = store;
    this.#remote = remote;
    this.#deps = deps;
    lendDeviceKey(remote, remoteDeviceKey(j.vault.vaultId, j.device.deviceId, unb64(j.device.signSeed)));
    const epochKeys = new Map(Object.entries(j.epochs).map(([k, v]) => [Number(k), unb64(v)] as const));
    const registry = new DeviceRegistry(j.vault.vaultId, j.registry);
    this.#ctx = {
      store,
      remote,
      deps,
      vaultId: j.vault.vaultId,
      deviceId: j.device.deviceId,
      signSeed: unb64(j.device.signSeed),
      boxSecret: unb64(j.device.boxSecret),
      epochKeys,
      registry,
      staleAfterMs: checkStaleAfter(o.staleAfterMs),
      rememberEpochKey: async (epoch, key) => {
        epochKeys.set(epoch, key);
        await store.write(async (tx) => {
          const saved = (await readMeta<Record<string, string>>(tx, META.epochs)) ?? {};
          const value = this.#localKey ? await sealEpochValue(this.#localKey, b64(key), deps.random) : b64(key);
          await writeMeta(tx, META.epochs, { ...saved, [epoch]: value });
        });
      },
      saveRegistry: () => store.write((tx) => writeMeta(tx, META.registry, registry.state)),
      progress: (p) => this.#emit('progress', p),
      // A blob the remote collected while this device was offline is re-uploaded before a reference to it.
      beforeSegment: async (ops, signal) => {
        const refs = new Set<string>();
        for (const op of ops) refsIn(op.s, refs);
        if (refs.size > 0) await this.blobs.ensureUploaded(refs, signal);
      },
    };
    this.blobs = new Blobs(this.#ctx, o.blobCache);
  }

  /**
   * What `restore` or `join` noticed about the remote when this device
   * joined: signs that it served an old state (see {@link SyncWarning}).
   * Empty for `create` and `open`; `pull` and `sync` return their own.
   */
  get warnings(): readonly SyncWarning[] {
    return this.#warnings;
  }

  // ---------------------------------------------------------------- lifecycle

  /** Reads the home's vault identity without touching the remote (undefined if none). */
  static async readConfig(store: Store): Promise<StoredVaultConfig | undefined> {
    return store.read(async (tx) => {
      const vault = await readMeta<VaultMeta>(tx, META.vault);
      const device = await readMeta<DeviceMeta>(tx, META.device);
      if (!vault || !device) return undefined;
      return { vaultId: vault.vaultId, deviceId: device.deviceId, deviceName: device.name, remoteUrl: vault.remoteUrl };
    });
  }

  /**
   * Creates a new vault on an empty remote, with this store as its first
   * device. Returns the recovery code: show it once; it is the only way
   * back in if every device is lost.
   */
  static async create(o: CreateVaultOptions): Promise<{ vault: Vault; recoveryCode: string }> {
    const deps = { ...systemDeps, ...o.deps };
    const name = checkDeviceName(o.deviceName);
    checkStaleAfter(o.staleAfterMs);
    await refuseExistingVault(o.store);
    if (await o.remote.head(remoteKeys.vault)) {
      throw new KithError(ErrorCode.RemoteInUse, `the remote ${o.remote.url} already holds a vault`, {
        hint: 'join it with `kith restore --recovery-code ...` or `kith join`, or choose an empty location',
      });
    }
    const vaultId = newVaultId(deps.random);
    const device = generateDeviceKeys(deps.random);
    const { code, secret } = generateRecoveryCode(deps.random);
    const recovery = recoveryKeys(secret);
    const epochKey = newEpochKey(deps.random);
    const now = deps.now();
    // The header goes first, put-if-absent and read back: of two devices racing to create a vault
    // here, the loser stops before writing anything, and an authenticating remote learns the
    // recovery key that signs the registry's first entry.
    const header = await encodeVaultHeader(
      { vaultId, createdAt: now, founder: device.deviceId, recoverySignPub: recovery.sign.pub, recoveryBoxPub: recovery.box.pub },
      recovery.sign.seed,
    );
    await o.remote.put(remoteKeys.vault, header, { ifAbsent: true });
    const stored = await o.remote.get(remoteKeys.vault);
    if (!stored || !bytesEqual(stored, header)) {
      throw new KithError(ErrorCode.RemoteInUse, `another device created a vault at ${o.remote.url} at the same moment`, { hint: 'join that vault with `kith restore`' });
    }
    const registry = new DeviceRegistry(vaultId, initialRegistry(recovery.sign.pub, recovery.box.pub));
    // The founder is signed in by the recovery key, the registry's anchor.
    lendDeviceKey(o.remote, remoteDeviceKey(vaultId, 'recovery', recovery.sign.seed));
    await registry.append(o.remote, { kind: 'add', deviceId: device.deviceId, name, signPub: device.sign.pub, boxPub: device.box.pub }, 'recovery', recovery.sign.seed, now);
    lendDeviceKey(o.remote, remoteDeviceKey(vaultId, device.deviceId, device.sign.seed));
    const sealer = { remote: o.remote, registry, vaultId, signerId: device.deviceId, signerSeed: device.sign.seed, random: deps.random };
    for (const [recipientId, recipientBoxPub] of registry.recipients()) await sealTo(sealer, 0, epochKey, recipientId, recipientBoxPub);
    const joined: JoinedState = {
      vault: { vaultId, remoteUrl: o.remoteUrl, createdAt: now, founder: device.deviceId, recoverySignPub: b64(recovery.sign.pub), recoveryBoxPub: b64(recovery.box.pub) },
      device: { deviceId: device.deviceId, name, signSeed: b64(device.sign.seed), boxSecret: b64(device.box.secret) },
      epochs: { 0: b64(epochKey) },
      registry: registry.state,
      caughtUp: true,
    };
    const localKey = await persistJoinedSealed(o.store, joined, o.localPassphrase, deps);
    return { vault: new Vault(o.store, o.remote, o, deps, joined, localKey), recoveryCode: code };
  }

  /**
   * Joins an existing vault as a new device with the recovery code or the
   * vault password. The device gets keys of its own. Nothing is written to
   * the store unless every check passed, so a failed restore leaves the
   * home reusable.
   */
  static async restore(o: RestoreVaultOptions): Promise<Vault> {
    const deps = { ...systemDeps, ...o.deps };
    const name = checkDeviceName(o.deviceName);
    const staleAfterMs = checkStaleAfter(o.staleAfterMs);
    const secret = 'recoveryCode' in o ? parseRecoveryCode(o.recoveryCode) : undefined; // a typo fails here, before any crypto
    await refuseExistingVault(o.store);
    // Header and registry are readable before authenticating: they say which key to prove.
    const stored = await readHeaderAndRegistry(o.remote);
    const { header, registry } = stored;
    let signer: 'recovery' | 'password';
    let keys: { sign: SigningKeyPair; box: BoxKeyPair };
    if (secret) {
      signer = 'recovery';
      keys = recoveryKeys(secret);
      if (!bytesEqual(keys.sign.pub, registry.recoverySignPub())) {
        const replaced = bytesEqual(keys.sign.pub, header.recoverySignPub);
        throw new KithError(ErrorCode.WrongRecoveryCode, replaced ? 'this recovery code was replaced by a newer one' : `this recovery code does not open the vault at ${o.remote.url}`, {
          hint: replaced ? 'use the newest recovery code (`kith recovery rotate` printed it)' : 'check that the code belongs to this vault',
        });
      }
    } else {
      signer = 'password';
      const params = registry.passwordParams();
      if (!params) throw new KithError(ErrorCode.WrongPassword, 'this vault has no password set', { hint: 'restore with the recovery code instead' });
      keys = await passwordKeys((o as { password: string }).password, params);
      if (!bytesEqual(keys.sign.pub, params.signPub)) throw new KithError(ErrorCode.WrongPassword, 'wrong password for this vault');
    }
    lendDeviceKey(o.remote, remoteDeviceKey(header.vaultId, signer, keys.sign.seed));
    const heads = await catchUpWithHeads(o.remote, stored);
    const warnings = remoteWarnings({ now: deps.now(), staleAfterMs, heads, registry });
    const epoch = registry.epoch;
    const place = { remote: o.remote, registry, vaultId: header.vaultId };
    const epochKey = await openSealedKey(place, epoch, signer, keys.box.secret);
    if (!epochKey) throw new KithError(ErrorCode.IntegrityCorrupt, `the vault key for the ${signer === 'recovery' ? 'recovery code' : 'password'} is missing from the remote`);
    const device = generateDeviceKeys(deps.random);
    await registry.append(o.remote, { kind: 'add', deviceId: device.deviceId, name, signPub: device.sign.pub, boxPub: device.box.pub }, signer, keys.sign.seed, deps.now());
    lendDeviceKey(o.remote, remoteDeviceKey(header.vaultId, device.deviceId, device.sign.seed));
    await sealTo({ ...place, signerId: device.deviceId, signerSeed: device.sign.seed, random: deps.random }, epoch, epochKey, device.deviceId, device.box.pub);
    const joined = joinedState(header, o.remoteUrl, { deviceId: device.deviceId, name, signSeed: b64(device.sign.seed), boxSecret: b64(device.box.secret) }, epoch, epochKey, registry);
    const localKey = await persistJoinedSealed(o.store, joined, o.localPassphrase, deps);
    const vault = new Vault(o.store, o.remote, o, deps, joined, localKey);
    vault.#warnings = warnings;
    return vault;
  }

  /**
   * Joins an existing vault with a pairing code from one of its devices
   * (`vault.pair()` there). Both sides show the same short authentication
   * string; the inviting device admits this one after its user confirms.
   */
  static async join(o: JoinOptions): Promise<Vault> {
    const deps = { ...systemDeps, ...o.deps };
    const name = checkDeviceName(o.deviceName);
    const staleAfterMs = checkStaleAfter(o.staleAfterMs);
    await refuseExistingVault(o.store);
    const device = generateDeviceKeys(deps.random);
    const accepted = await joinPairing(o.remote, o.code, device, name, deps, o);
    // The inviter put this device in the registry before it answered: from here on it authenticates.
    lendDeviceKey(o.remote, remoteDeviceKey(accepted.vaultId, device.deviceId, device.sign.seed));
    const { header, headerBytes, registry, heads } = await readVault(o.remote);
    const warnings = remoteWarnings({ now: deps.now(), staleAfterMs, heads, registry });
    if (header.vaultId !== accepted.vaultId || bytesToHex(await sha256(headerBytes)) !== accepted.headerHash) {
      throw new KithError(ErrorCode.IntegrityCorrupt, 'the vault on the remote is not the one the inviting device belongs to');
    }
    const me = registry.device(device.deviceId);
    if (!me || me.signPub !== toBase64url(device.sign.pub) || me.addedBy !== accepted.inviter) {
      throw new KithError(ErrorCode.IntegrityCorrupt, 'the device registry does not hold this device as the inviting device added it');
    }
    const epoch = registry.epoch;
    const epochKey = await openSealedKey({ remote: o.remote, registry, vaultId: header.vaultId }, epoch, device.deviceId, device.box.secret);
    if (!epochKey) throw new KithError(ErrorCode.IntegrityCorrupt, 'the vault key sealed to this device is missing from the remote');
    const joined = joinedState(header, o.remoteUrl, { deviceId: device.deviceId, name, signSeed: b64(device.sign.seed), boxSecret: b64(device.box.secret) }, epoch, epochKey, registry);
    const localKey = await persistJoinedSealed(o.store, joined, o.localPassphrase, deps);
    const vault = new Vault(o.store, o.remote, o, deps, joined, localKey);
    vault.#warnings = warnings;
    return vault;
  }

  /** Opens the vault this store holds (KITH_NO_VAULT if none). */
  static async open(o: VaultOptions): Promise<Vault> {
    const deps = { ...systemDeps, ...o.deps };
    checkStaleAfter(o.staleAfterMs);
    const m = await o.store.read(async (tx) => {
      const { vault, device } = await requireVault(tx);
      const registry = await readMeta<RegistryState>(tx, META.registry);
      if (!registry || !Array.isArray(registry.hashes)) {
        throw new KithError(ErrorCode.StoreTooNew, 'this home was made by an older development build of kith', { hint: 'create a new home and restore into it' });
      }
      return { vault, device, epochs: (await readMeta<Record<string, string>>(tx, META.epochs)) ?? {}, registry };
    });
    const plain = await unsealSecrets({ device: m.device, epochs: m.epochs }, o.localPassphrase);
    return new Vault(o.store, o.remote, o, deps, { ...m, device: plain.device, epochs: plain.epochs }, plain.key);
  }

  /**
   * Seals this device's private keys and epoch keys in its store under a
   * local passphrase (Argon2id), or with `null` stores them unsealed again.
   */
  async setLocalPassphrase(passphrase: string | null): Promise<void> {
    await this.#exclusive(async () => {
      const plain = await this.#store.read(async (tx) => ({
        device: (await readMeta<DeviceMeta>(tx, META.device))!,
        epochs: (await readMeta<Record<string, string>>(tx, META.epochs)) ?? {},
      }));
      const device: DeviceMeta = { deviceId: this.deviceId, name: plain.device.name, signSeed: b64(this.#ctx.signSeed), boxSecret: b64(this.#ctx.boxSecret) };
      const epochs = Object.fromEntries([...this.#ctx.epochKeys].map(([e, k]) => [String(e), b64(k)]));
      const next = passphrase === null ? { device, epochs, key: undefined } : await sealSecrets({ device, epochs }, passphrase, this.#deps.random);
      await this.#store.write(async (tx) => {
        await writeMeta(tx, META.device, next.device);
        await writeMeta(tx, META.epochs, next.epochs);
      });
      this.#localKey = next.key;
    });
  }

  // ---------------------------------------------------------------- devices

  /** Every device of the vault, revoked ones included (from the last verified registry). */
  async devices(o: { refresh?: boolean } = {}): Promise<DeviceInfo[]> {
    if (o.refresh) await this.#exclusive(() => this.#syncRegistry());
    return this.#ctx.registry.devices().map(([deviceId, d]) => ({
      deviceId,
      name: d.name,
      addedAt: new Date(d.addedAt).toISOString(),
      addedBy: d.addedBy,
      revoked: d.revoked !== undefined,
      current: deviceId === this.deviceId,
    }));
  }

  /** Renames a device of the vault (this one or another). */
  async renameDevice(deviceId: string, name: string): Promise<void> {
    const clean = checkDeviceName(name);
    await this.#exclusive(async () => {
      await this.#syncRegistry();
      if (!this.#ctx.registry.device(deviceId)) throw unknownDevice(deviceId);
      await this.#appendRegistry({ kind: 'rename', deviceId, name: clean });
      if (deviceId === this.deviceId) {
        await this.#store.write(async (tx) => {
          const device = (await readMeta<DeviceMeta>(tx, META.device))!;
          await writeMeta<DeviceMeta>(tx, META.device, { ...device, name: clean });
        });
      }
    });
  }

  /**
   * Removes a device for good: a signed revocation, then a new epoch key
   * sealed only to the remaining devices (and the recovery code and
   * password). The revoked device can read nothing written afterwards, and
   * its later writes are refused everywhere.
   */
  async revokeDevice(deviceId: string): Promise<void> {
    await this.#exclusive(async () => {
      await this.#syncRegistry();
      const target = this.#ctx.registry.device(deviceId);
      if (!target) throw unknownDevice(deviceId);
      if (target.revoked) throw new KithError(ErrorCode.BadInput, `device ${deviceId} is already revoked`);
      if (deviceId === this.deviceId) throw new KithError(ErrorCode.BadInput, 'a device cannot revoke itself', { hint: 'revoke it from another device' });
      // Everything the device pushed up to now stays valid; pull it first so it is not lost.
      await pull(this.#ctx).catch((e: unknown) => {
        if (!isIntegrityError(e)) throw e;
      });
      const lastSeq = (await this.#store.read((tx) => readMeta<Cursor>(tx, META.cursor(deviceId))))?.seq ?? 0;
      await this.#rotateEpoch((epoch, keyCheck) => ({ kind: 'revoke', deviceId, lastSeq, epoch, keyCheck }), (draft) => draft.filter(([id]) => id !== deviceId));
    });
  }

  /** Issues a new recovery code; the old one stops working. Returns the new code. */
  async rotateRecoveryCode(): Promise<string> {
    return this.#exclusive(async () => {
      await this.#syncRegistry();
      const { code, secret } = generateRecoveryCode(this.#deps.random);
      const fresh = recoveryKeys(secret);
      await this.#rotateEpoch(
        (epoch, keyCheck) => ({ kind: 'recovery', signPub: fresh.sign.pub, boxPub: fresh.box.pub, epoch, keyCheck }),
        (draft) => draft.map(([id, pub]) => (id === 'recovery' ? [id, fresh.box.pub] : [id, pub])),
      );
      return code;
    });
  }

  /** Sets or changes the vault password, a second way back in beside the recovery code. */
  async setPassword(password: string): Promise<void> {
    checkPassword(password);
    await this.#exclusive(async () => {
      await this.#syncRegistry();
      const params = newArgon2Params(this.#deps.random);
      const keys = await passwordKeys(password, params);
      await this.#appendRegistry({ kind: 'password', signPub: keys.sign.pub, boxPub: keys.box.pub, params });
      // Seal every epoch key this device holds, so a password restore can read the whole history.
      for (const [epoch, key] of this.#ctx.epochKeys) await sealTo(sealerOf(this.#ctx), epoch, key, 'password', keys.box.pub);
    });
  }

  /** The Argon2id parameters of the vault password, as the verified registry holds them (undefined: none set). */
  passwordParameters(): { memoryKiB: number; iterations: number; parallelism: number } | undefined {
    const p = this.#ctx.registry.passwordParams();
    return p && { memoryKiB: p.memoryKiB, iterations: p.iterations, parallelism: p.parallelism };
  }

  /** Removes the vault password (the recovery code keeps working). */
  async removePassword(): Promise<void> {
    await this.#exclusive(async () => {
      await this.#syncRegistry();
      if (!this.#ctx.registry.passwordParams()) throw new KithError(ErrorCode.BadInput, 'this vault has no password set');
      await this.#appendRegistry({ kind: 'password-remove' });
      const sealed = await this.#remote.list('keys/');
      for (const o of sealed) if (o.key.endsWith('/password')) await this.#remote.delete(o.key);
    });
  }

  /**
   * Invites a new device: shows a one-time code (valid for `timeoutMs`),
   * waits for a device to join with it, lets the user compare the short
   * authentication string, then signs the device in and seals the vault
   * key to it.
   */
  async pair(o: PairOptions): Promise<{ deviceId: string; name: string; sas: string }> {
    await this.#exclusive(() => this.#syncRegistry());
    this.#ctx.registry.assertNotRevoked(this.deviceId);
    const headerBytes = await this.#remote.get(remoteKeys.vault);
    if (!headerBytes) throw new KithError(ErrorCode.RemoteEmpty, `the vault header is missing from ${this.#remote.url}`);
    return invitePairing(this.#remote, { vaultId: this.vaultId, inviter: this.deviceId, headerHash: bytesToHex(await sha256(headerBytes)) }, this.#deps, o, async (joiner) => {
      await this.#exclusive(async () => {
        await this.#appendRegistry({ kind: 'add', deviceId: joiner.deviceId, name: joiner.name, signPub: joiner.signPub, boxPub: joiner.boxPub });
        await sealCurrentEpochTo(this.#ctx, joiner.deviceId, joiner.boxPub);
      });
    });
  }

  async #syncRegistry(): Promise<void> {
    await catchUpRegistry(this.#ctx);
  }

  async #appendRegistry(change: RegistryChange): Promise<void> {
    await this.#ctx.registry.append(this.#remote, change, this.deviceId, this.#ctx.signSeed, this.#deps.now());
    await this.#ctx.saveRegistry();
  }

  /**
   * Starts a new epoch: its key is sealed to the recipients that remain
   * (before the registry entry announces it, so nobody looks for a key that
   * is not there yet), linked to the previous epoch, checked on the remote,
   * then announced by an entry that commits to it, then this device's head
   * is rewritten to name the new registry position.
   */
  async #rotateEpoch(change: (epoch: number, keyCheck: Uint8Array) => RegistryChange, recipients: (current: [string, Uint8Array][]) => [string, Uint8Array][]): Promise<void> {
    const previous = await loadEpochKey(this.#ctx, this.#ctx.registry.epoch);
    const epoch = this.#ctx.registry.epoch + 1;
    const key = newEpochKey(this.#deps.random);
    const keyCheck = await publishEpoch(this.#ctx, epoch, key, previous, recipients(this.#ctx.registry.recipients()));
    await this.#appendRegistry(change(epoch, keyCheck));
    await this.#ctx.rememberEpochKey(epoch, key);
    await pushSegments(this.#ctx);
  }

  /** Stops auto-sync and closes the store and the remote. */
  async close(): Promise<void> {
    await Promise.all([...this.#autoSyncs].map((s) => s.stop()));
    await this.#syncing.catch(() => undefined);
    await this.#store.close();
    await this.#remote.close();
  }

  // ---------------------------------------------------------------- records

  /** Replaces a record (fields not given are removed). */
  async put(collection: string, id: string, fields: JsonObject): Promise<void> {
    await this.#write([{ kind: 'put', collection, id, fields }]);
  }

  /** Sets the given top-level fields (an `undefined` value removes one), keeping the others; KITH_NOT_FOUND unless the record exists. */
  async patch(collection: string, id: string, fields: JsonObject): Promise<void> {
    await this.#write([{ kind: 'patch', collection, id, fields }]);
  }

  /** Deletes a record (KITH_NOT_FOUND if it does not exist). */
  async delete(collection: string, id: string): Promise<void> {
    await this.#write([{ kind: 'delete', collection, id }]);
  }

  /** Several writes in one transaction: all or nothing. Returns how many. */
  async batch(fn: (b: BatchWriter) => void): Promise<number> {
    const writes: Write[] = [];
    fn({
      put: (collection, id, fields) => void writes.push({ kind: 'put', collection, id, fields }),
      patch: (collection, id, fields) => void writes.push({ kind: 'patch', collection, id, fields }),
      delete: (collection, id) => void writes.push({ kind: 'delete', collection, id }),
    });
    return this.#write(writes);
  }

  async get(collection: string, id: string): Promise<Doc | undefined> {
    checkCollection(collection);
    checkRecordId(id);
    const row = await this.#store.read(async (tx) => (await tx.getRecords(collection, [id])).get(id));
    return row && !row.deleted ? docOf(row) : undefined;
  }

  /** A page of a collection's records, filtered and ordered. */
  async list(collection: string, q: ListQuery = {}): Promise<ListPage> {
    checkCollection(collection);
    const where: FieldFilter[] = Object.entries(q.where ?? {}).map(([field, value]) => ({ field, value }));
    const desc = q.order?.startsWith('-') ?? false;
    const page = await this.#store.read((tx) =>
      tx.query({
        collection,
        where,
        ...(q.order ? { order: { field: desc ? q.order.slice(1) : q.order, direction: desc ? 'desc' : 'asc' } } : {}),
        ...(q.limit !== undefined ? { limit: q.limit } : {}),
        ...(q.after !== undefined ? { after: q.after } : {}),
      }),
    );
    return { records: page.rows.map(docOf), next: page.next };
  }

  /**
   * Calls `fn` with the query's records now and after every change to the
   * collection (local or synced). Returns a function that unsubscribes.
   */
  subscribe(collection: string, q: ListQuery, fn: (records: Doc[]) => void): () => void {
    let live = true;
    const run = (): void => {
      this.list(collection, q).then(
        (page) => live && fn(page.records),
        (error: unknown) => this.#emit('error', { error: error as Error }),
      );
    };
    const off = this.on('change', (e) => e.collections.includes(collection) && run());
    run();
    return () => {
      live = false;
      off();
    };
  }

  // ---------------------------------------------------------------- conflicts and history

  async conflicts(collection?: string): Promise<Conflict[]> {
    if (collection !== undefined) checkCollection(collection);
    const rows = await this.#store.read((tx) => tx.listConflicted(collection));
    const out: Conflict[] = [];
    for (const row of rows) {
      for (const c of conflictsOf(viewOf(row, row.collection, row.id))) {
        const [w, ...losers] = c.heads;
        out.push({
          collection: row.collection,
          id: row.id,
          field: c.field,
          ...(c.field === null ? { winnerDeleted: w!.value !== true } : w!.present ? { winner: w!.value! } : { winnerDeleted: true }),
          winnerDevice: w!.device,
          losers: losers.map((h) =>
            c.field === null
              ? { device: h.device, hlc: h.stamp, deleted: h.value !== true }
              : h.present
                ? { device: h.device, hlc: h.stamp, value: h.value! }
                : { device: h.device, hlc: h.stamp, deleted: true },
          ),
        });
      }
    }
    return out;
  }

  /** Resolves a record's conflicts (one field, or all); the choice syncs like any write. */
  async resolve(collection: string, id: string, field: string | null | undefined, how: Resolution): Promise<void> {
    checkCollection(collection);
    checkRecordId(id);
    if ('value' in how) checkFields({ [field ?? 'value']: how.value });
    await this.#commit(async (_tx, views, clock) => {
      await views.load([[collection, id]]);
      const v = views.view(collection, id);
      if (v.updated === '') throw notFound(collection, id);
      return [this.#applyLocal(views, v, resolveOp(v, clock.next(), field, how))];
    });
  }

  async log(filter: { collection?: string; id?: string; limit?: number } = {}): Promise<LogEntry[]> {
    return this.#store.read((tx) => tx.readLog(filter));
  }

  // ---------------------------------------------------------------- sync

  /** Sends local writes to the remote. */
  async push(o: { signal?: AbortSignal } = {}): Promise<SyncResult> {
    return this.#exclusive(async () => {
      const pushed = await pushSegments(this.#ctx, o.signal);
      return { pushed, pulled: 0, conflicts: await this.#conflictTotal() };
    });
  }

  /** Fetches and applies what other devices wrote; `warnings` when the remote looks like it serves an old state. */
  async pull(o: { signal?: AbortSignal } = {}): Promise<SyncResult> {
    return this.#exclusive(async () => {
      const { pulled, warnings } = await this.#pullOnce(o.signal);
      return { pushed: 0, pulled, conflicts: await this.#conflictTotal(), ...(warnings.length > 0 ? { warnings } : {}) };
    });
  }

  /** Pull, then push; `warnings` when the remote looks like it serves an old state. */
  async sync(o: { signal?: AbortSignal } = {}): Promise<SyncResult> {
    return this.#exclusive(async () => {
      const { pulled, warnings } = await this.#pullOnce(o.signal);
      const pushed = await pushSegments(this.#ctx, o.signal);
      const result = { pushed, pulled, conflicts: await this.#conflictTotal(), ...(warnings.length > 0 ? { warnings } : {}) };
      this.#emit('synced', result);
      return result;
    });
  }

  /**
   * Verifies everything on the remote, reading only: see {@link checkRemote}.
   * Costs one listing plus one read per object (chunks only with `readData`).
   */
  async check(o: CheckOptions = {}): Promise<CheckReport> {
    return checkRemote(this.#ctx, await this.blobs.referenced(), o);
  }

  async status(): Promise<VaultStatus> {
    return this.#store.read(async (tx) => {
      const { vault, device } = await requireVault(tx);
      const status = await readMeta<StatusMeta>(tx, META.status);
      const conflicted = await tx.listConflicted();
      return {
        vaultId: vault.vaultId,
        deviceId: device.deviceId,
        deviceName: device.name,
        remote: vault.remoteUrl,
        pending: await tx.countOutbox(),
        lastPush: status?.lastPush ?? null,
        lastPull: status?.lastPull ?? null,
        conflicts: conflicted.reduce((n, r) => n + conflictCount(r), 0),
        caughtUp: status?.caughtUp ?? false,
        devices: await deviceStatuses(tx, this.#ctx.registry, device.deviceId),
      };
    });
  }

  /**
   * Syncs now, then every `intervalMs`, soon after local writes, and at
   * once when the remote reports a change (where it can watch). Failures
   * are reported as `error` events and retried with backoff.
   */
  startAutoSync(o: { intervalMs: number; signal?: AbortSignal }): { stop(): Promise<void> } {
    const abort = new AbortController();
    o.signal?.addEventListener('abort', () => abort.abort(), { once: true });
    let wake: ((afterMs: number) => void) | undefined;
    // A poke that lands while a round runs is kept for after it (that round may have missed the change).
    let missed: number | undefined;
    const poke = (afterMs: number): void => {
      if (wake) wake(afterMs);
      else missed = Math.min(missed ?? afterMs, afterMs);
    };
    // A local write waits a moment so a burst of them goes in one push; a push notice from the remote is acted on at once.
    const offLocal = this.on('change', (e) => e.source === 'local' && poke(50));
    const offWatch = canWatch(this.#remote) ? this.#remote.watch(remoteKeys.headsPrefix, () => poke(0)) : undefined;
    let failures = 0;
    const loop = (async () => {
      while (!abort.signal.aborted) {
        missed = undefined;
        try {
          await this.sync({ signal: abort.signal });
          failures = 0;
        } catch (error) {
          if (abort.signal.aborted) break;
          failures++;
          this.#emit('error', { error: error as Error });
        }
        if (abort.signal.aborted) break; // stopped during the round: no wait (its abort event has fired already)
        const delay = failures === 0 ? (missed ?? o.intervalMs) : Math.min(o.intervalMs * 2 ** failures, 60_000);
        await new Promise<void>((resolve) => {
          // One abort listener per wait, removed when the wait ends (no listener pile-up over rounds).
          const done = (): void => {
            clearTimeout(timer);
            abort.signal.removeEventListener('abort', done);
            resolve();
          };
          const timer = setTimeout(done, delay);
          wake = (afterMs) => {
            clearTimeout(timer);
            setTimeout(done, afterMs);
          };
          abort.signal.addEventListener('abort', done, { once: true });
        });
        wake = undefined;
      }
    })();
    const handle = {
      stop: async () => {
        abort.abort();
        offLocal();
        offWatch?.();
        await loop;
        this.#autoSyncs.delete(handle);
      },
    };
    this.#autoSyncs.add(handle);
    return handle;
  }

  /** Listens to an event; returns a function that stops listening. */
  on<E extends keyof VaultEvents>(event: E, fn: (e: VaultEvents[E]) => void): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(fn as Listener<keyof VaultEvents>);
    return () => set.delete(fn as Listener<keyof VaultEvents>);
  }

  // ---------------------------------------------------------------- internals

  #emit<E extends keyof VaultEvents>(event: E, e: VaultEvents[E]): void {
    for (const fn of this.#listeners.get(event) ?? []) {
      try {
        fn(e);
      } catch {
        // A listener's failure must not break a write or a sync.
      }
    }
  }

  async #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#syncing.catch(() => undefined).then(fn);
    this.#syncing = run;
    return run;
  }

  async #pullOnce(signal?: AbortSignal): Promise<{ pulled: number; warnings: SyncWarning[] }> {
    const wasCaughtUp = (await this.#store.read((tx) => readMeta<StatusMeta>(tx, META.status)))?.caughtUp ?? false;
    const outcome = await pull(this.#ctx, signal);
    if (outcome.collections.size > 0) this.#emit('change', { collections: [...outcome.collections], source: 'remote' });
    if (!wasCaughtUp && outcome.complete) {
      await this.#store.write(async (tx) => {
        const status = await readMeta<StatusMeta>(tx, META.status);
        await writeMeta<StatusMeta>(tx, META.status, { lastPush: null, lastPull: null, ...status, caughtUp: true });
      });
      this.#emit('caughtUp', { changes: outcome.pulled });
    }
    return { pulled: outcome.pulled, warnings: outcome.warnings };
  }

  async #conflictTotal(): Promise<number> {
    const rows = await this.#store.read((tx) => tx.listConflicted());
    return rows.reduce((n, r) => n + conflictCount(r), 0);
  }

  /** Validates, then applies local writes in one transaction. */
  async #write(writes: Write[]): Promise<number> {
    for (const w of writes) {
      checkCollection(w.collection);
      checkNewRecordId(w.id);
      if (w.kind !== 'delete') {
        checkFields(w.fields);
        w.fields = copyFields(w.fields, w.kind === 'patch');
      }
    }
    if (writes.length === 0) return 0;
    await this.#commit(async (_tx, views, clock) => {
      await views.load(writes.map((w) => [w.collection, w.id] as const));
      const ops: Op[] = [];
      for (const w of writes) {
        const v = views.view(w.collection, w.id);
        const t = clock.next();
        let op: Op;
        // Patch and delete need a live record (put creates one); the throw rolls the whole batch back.
        if (w.kind !== 'put' && v.deleted) throw notFound(w.collection, w.id);
        if (w.kind === 'put') op = putOp(v, t, w.fields);
        else if (w.kind === 'patch') op = patchOp(v, t, w.fields);
        else op = deleteOp(v, t);
        ops.push(this.#applyLocal(views, v, op));
      }
      return ops;
    });
    return writes.length;
  }

  #applyLocal(views: ViewSet, v: RecordView, op: Op): Op {
    const stamp = op.t + this.deviceId;
    applyOp(v, op, this.deviceId, (s) => s !== stamp);
    views.touch(v.collection, v.id);
    return op;
  }

  /** One local write transaction: clock, merge, rows, history, outbox. */
  async #commit(fn: (tx: StoreTx, views: ViewSet, clock: HybridClock) => Promise<Op[]>): Promise<void> {
    const collections = await this.#store.write(async (tx) => {
      const clock = new HybridClock(this.#deps.now, (await readMeta<{ last: string }>(tx, META.hlc))?.last);
      const views = new ViewSet(tx);
      const ops = await fn(tx, views, clock);
      const touched = await views.flush();
      await tx.appendLog(ops.map((op) => logEntryOf(op, this.deviceId)));
      await tx.appendOutbox(ops as unknown as JsonObject[]);
      await writeMeta(tx, META.hlc, { last: clock.last });
      return touched;
    });
    this.#emit('change', { collections, source: 'local' });
  }
}

/** Writes a new device's state, sealed under `passphrase` if one is given; returns the sealing key. */
async function persistJoinedSealed(store: Store, joined: JoinedState, passphrase: string | undefined, deps: Deps): Promise<Uint8Array | undefined> {
  if (passphrase === undefined) {
    await persistJoined(store, joined);
    return undefined;
  }
  const sealed = await sealSecrets({ device: joined.device, epochs: joined.epochs }, passphrase, deps.random);
  await persistJoined(store, { ...joined, device: sealed.device, epochs: sealed.epochs });
  return sealed.key;
}

/** Fields in their documented order (see {@link orderedFields}), then the id. */
function docOf(row: RecordRow): Doc {
  return { ...orderedFields(row.fields), id: row.id };
}

function notFound(collection: string, id: string): KithError {
  return new KithError(ErrorCode.NotFound, `no record ${JSON.stringify(id)} in ${collection}`);
}




