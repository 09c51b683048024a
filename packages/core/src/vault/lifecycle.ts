/**
 * @module vault/lifecycle
 * How a device comes to hold a vault: create (the first device), restore
 * (recovery code or password), join (a pairing code); and how its keys are
 * sealed in its store. Each returns the session the Vault facade runs on.
 * The Vault imports this module when one of them is called (a returning
 * device only opens: vault/open.ts).
 */
import { lendDeviceKey } from '../ports/capabilities.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { systemDeps, type Deps } from '../base/deps.js';
import {
  bytesEqual,
  bytesToHex,
  generateDeviceKeys,
  generateRecoveryCode,
  givenRecoveryCode,
  newEpochKey,
  newVaultId,
  parseRecoveryCode,
  passwordKeys,
  recoveryKeys,
  sha256,
  toBase64url,
  type BoxKeyPair,
  type DeviceKeys,
  type SigningKeyPair,
} from '../crypto/index.js';
import { encodeVaultHeader, remoteKeys } from '../format/index.js';
import { putIfAbsentHolds } from '../ports/put-if-absent.js';
import type { Remote } from '../ports/remote.js';
import type { Store } from '../ports/store.js';
import { META, b64, readMeta, writeMeta, type DeviceMeta } from '../ports/store-meta.js';
import { remoteDeviceKey } from '../identity/remote-auth.js';
import { DeviceRegistry, initialRegistry } from '../identity/registry.js';
import { sealTo } from '../identity/epoch-seals.js';
import { sealSecrets } from '../identity/local-keys.js';
import { checkDeviceName, joinedState, persistJoined, readHeaderAndRegistry, refuseExistingVault, type JoinedState } from '../identity/join.js';
import { joinPairing } from '../identity/pairing.js';
import { checkStaleAfter, remoteWarnings } from '../sync/staleness.js';
import type { SyncWarning } from '../base/warnings.js';
import { VaultSession } from './session.js';
import { readAsNewcomer } from './read-ahead.js';
import { adoptRestoredIdentity } from './spaces/identity.js';
import type { JoinOptions, NewVaultOptions, RestoreVaultOptions, VaultOptions } from './vault-types.js';

/**
 * Creates a new vault on an empty remote, with this store as its first
 * device. Returns the recovery code: show it once; it is the only way
 * back in if every device is lost.
 */
export async function createVault(o: NewVaultOptions, remote: Remote): Promise<{ session: VaultSession; recoveryCode: string }> {
  const deps = { ...systemDeps, ...o.deps };
  const name = checkDeviceName(o.deviceName);
  checkStaleAfter(o.staleAfterMs);
  await refuseExistingVault(o.store);
  if (await remote.head(remoteKeys.vault)) {
    throw new KithError(ErrorCode.RemoteInUse, `the remote ${remote.url} already holds a vault`, {
      hint: 'restore or join that vault instead, or choose an empty location',
      reason: 'remote-has-vault',
    });
  }
  const vaultId = newVaultId(deps.random);
  const device = generateDeviceKeys(deps.random);
  const { code, secret } = o.recoveryCode === undefined ? generateRecoveryCode(deps.random) : givenRecoveryCode(o.recoveryCode);
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
  if (!(await putIfAbsentHolds(remote, remoteKeys.vault, header))) {
    throw new KithError(ErrorCode.RemoteInUse, `another device created a vault at ${remote.url} at the same moment`, {
      hint: 'restore or join that vault instead',
      reason: 'created-concurrently',
    });
  }
  const registry = new DeviceRegistry(vaultId, initialRegistry(recovery.sign.pub, recovery.box.pub));
  // The founder is signed in by the recovery key, the registry's anchor.
  lendDeviceKey(remote, remoteDeviceKey(vaultId, 'recovery', recovery.sign.seed));
  await registry.append(
    remote,
    { kind: 'add', deviceId: device.deviceId, name, signPub: device.sign.pub, boxPub: device.box.pub },
    'recovery',
    recovery.sign.seed,
    now,
  );
  lendDeviceKey(remote, remoteDeviceKey(vaultId, device.deviceId, device.sign.seed));
  const sealer = { remote: remote, registry, vaultId, signerId: device.deviceId, signerSeed: device.sign.seed, random: deps.random };
  for (const [recipientId, recipientBoxPub] of registry.recipients()) await sealTo(sealer, 0, epochKey, recipientId, recipientBoxPub);
  const joined: JoinedState = {
    vault: {
      vaultId,
      remoteUrl: o.remoteUrl,
      createdAt: now,
      founder: device.deviceId,
      recoverySignPub: b64(recovery.sign.pub),
      recoveryBoxPub: b64(recovery.box.pub),
    },
    device: deviceMetaOf(device, name),
    epochs: { 0: b64(epochKey) },
    registry: registry.state,
    caughtUp: true,
  };
  return { session: await startSession(o, remote, deps, joined), recoveryCode: code };
}

/**
 * Joins an existing vault as a new device with the recovery code or the
 * vault password. The device gets keys of its own. Nothing is written to
 * the store unless every check passed, so a failed restore leaves the
 * home reusable.
 */
export async function restoreVault(o: RestoreVaultOptions, remote: Remote): Promise<VaultSession> {
  const deps = { ...systemDeps, ...o.deps };
  const name = checkDeviceName(o.deviceName);
  const staleAfterMs = checkStaleAfter(o.staleAfterMs);
  const secret = 'recoveryCode' in o ? parseRecoveryCode(o.recoveryCode) : undefined; // a typo fails here, before any crypto
  await refuseExistingVault(o.store);
  // Header and registry are readable before authenticating: they say which key to prove.
  const stored = await readHeaderAndRegistry(remote);
  const { header, registry } = stored;
  let signer: 'recovery' | 'password';
  let keys: { sign: SigningKeyPair; box: BoxKeyPair };
  if (secret) {
    signer = 'recovery';
    keys = recoveryKeys(secret);
    if (!bytesEqual(keys.sign.pub, registry.recoverySignPub())) {
      const replaced = bytesEqual(keys.sign.pub, header.recoverySignPub);
      throw new KithError(
        ErrorCode.WrongRecoveryCode,
        replaced ? 'this recovery code was replaced by a newer one' : `this recovery code does not open the vault at ${remote.url}`,
        {
          ...(replaced
            ? { hint: 'use the newest recovery code (the one the latest rotation gave)', reason: 'recovery-code-replaced' }
            : { hint: 'check that the code belongs to this vault' }),
        },
      );
    }
  } else {
    signer = 'password';
    const params = registry.passwordParams();
    if (!params) throw new KithError(ErrorCode.WrongPassword, 'this vault has no password set', { hint: 'restore with the recovery code instead' });
    keys = await passwordKeys((o as { password: string }).password, params);
    if (!bytesEqual(keys.sign.pub, params.signPub)) throw new KithError(ErrorCode.WrongPassword, 'wrong password for this vault');
  }
  lendDeviceKey(remote, remoteDeviceKey(header.vaultId, signer, keys.sign.seed));
  const { heads, epochKey, prefetch } = await readAsNewcomer(remote, stored, signer, keys.box.secret, {
    store: o.store,
  });
  const warnings = remoteWarnings({ now: deps.now(), staleAfterMs, heads: heads.times, registry });
  const epoch = registry.epoch;
  if (!epochKey)
    throw new KithError(ErrorCode.IntegrityCorrupt, `the vault key for the ${signer === 'recovery' ? 'recovery code' : 'password'} is missing from the remote`);
  const device = generateDeviceKeys(deps.random);
  await registry.append(
    remote,
    { kind: 'add', deviceId: device.deviceId, name, signPub: device.sign.pub, boxPub: device.box.pub },
    signer,
    keys.sign.seed,
    deps.now(),
    { synced: true },
  );
  lendDeviceKey(remote, remoteDeviceKey(header.vaultId, device.deviceId, device.sign.seed));
  const place = { remote: remote, registry, vaultId: header.vaultId };
  // The vault key sealed to this device, and the person's identity (shared spaces) sealed to it from the key it
  // proved (without it a person who lost every device loses their spaces): independent objects, written at once
  // (on a network remote, round trips saved), both settled before the restore goes on or fails.
  await allOrFirstError([
    sealTo({ ...place, signerId: device.deviceId, signerSeed: device.sign.seed, random: deps.random }, epoch, epochKey, device.deviceId, device.box.pub),
    adoptRestoredIdentity({
      ...place,
      via: signer,
      viaBoxSecret: keys.box.secret,
      deviceId: device.deviceId,
      signSeed: device.sign.seed,
      boxPub: device.box.pub,
      random: deps.random,
    }),
  ]);
  const joined = joinedState(header, o.remoteUrl, deviceMetaOf(device, name), epoch, epochKey, registry);
  const session = await startSession(o, remote, deps, joined, warnings);
  session.snapshotPrefetch = prefetch;
  session.headsRead = heads;
  return session;
}

/**
 * Joins an existing vault with a pairing code from one of its devices
 * (`vault.pair()` there). Both sides show the same short authentication
 * string; the inviting device admits this one after its user confirms.
 */
export async function joinVault(o: JoinOptions, remote: Remote): Promise<VaultSession> {
  const deps = { ...systemDeps, ...o.deps };
  const name = checkDeviceName(o.deviceName);
  const staleAfterMs = checkStaleAfter(o.staleAfterMs);
  await refuseExistingVault(o.store);
  const device = generateDeviceKeys(deps.random);
  const accepted = await joinPairing(remote, o.code, device, name, deps, o);
  // The inviter put this device in the registry before it answered: from here on it authenticates.
  lendDeviceKey(remote, remoteDeviceKey(accepted.vaultId, device.deviceId, device.sign.seed));
  const stored = await readHeaderAndRegistry(remote);
  const { header, headerBytes, registry } = stored;
  if (header.vaultId !== accepted.vaultId || bytesToHex(await sha256(headerBytes)) !== accepted.headerHash) {
    throw new KithError(ErrorCode.IntegrityCorrupt, 'the vault on the remote is not the one the inviting device belongs to');
  }
  const { heads, epochKey, prefetch } = await readAsNewcomer(remote, stored, device.deviceId, device.box.secret, {
    store: o.store,
    check: () => {
      const me = registry.device(device.deviceId);
      if (!me || me.signPub !== toBase64url(device.sign.pub) || me.addedBy !== accepted.inviter) {
        throw new KithError(ErrorCode.IntegrityCorrupt, 'the device registry does not hold this device as the inviting device added it');
      }
    },
  });
  const warnings = remoteWarnings({ now: deps.now(), staleAfterMs, heads: heads.times, registry });
  const epoch = registry.epoch;
  if (!epochKey) throw new KithError(ErrorCode.IntegrityCorrupt, 'the vault key sealed to this device is missing from the remote');
  const joined = joinedState(header, o.remoteUrl, deviceMetaOf(device, name), epoch, epochKey, registry);
  const session = await startSession(o, remote, deps, joined, warnings);
  session.snapshotPrefetch = prefetch;
  session.headsRead = heads;
  return session;
}

/**
 * Seals this device's private keys and epoch keys in its store under a
 * local passphrase (Argon2id), or with `null` stores them unsealed again.
 */
export async function setLocalPassphrase(s: VaultSession, passphrase: string | null): Promise<void> {
  await s.exclusive(async () => {
    const plain = await s.store.read(async (tx) => ({
      device: (await readMeta<DeviceMeta>(tx, META.device))!,
      epochs: (await readMeta<Record<string, string>>(tx, META.epochs)) ?? {},
    }));
    const device: DeviceMeta = { deviceId: s.ctx.deviceId, name: plain.device.name, signSeed: b64(s.ctx.signSeed), boxSecret: b64(s.ctx.boxSecret) };
    const epochs = Object.fromEntries([...s.ctx.epochKeys].map(([e, k]) => [String(e), b64(k)]));
    const next = passphrase === null ? { device, epochs, key: undefined } : await sealSecrets({ device, epochs }, passphrase, s.deps.random);
    await s.store.write(async (tx) => {
      await writeMeta(tx, META.device, next.device);
      await writeMeta(tx, META.epochs, next.epochs);
    });
    s.localKey = next.key;
  });
}

/** Waits for every promise; then rejects with the first failure in order, if any (no write outlives the call). */
async function allOrFirstError(work: Promise<unknown>[]): Promise<void> {
  for (const r of await Promise.allSettled(work)) if (r.status === 'rejected') throw r.reason;
}

/** What the store keeps of a new device: its id, name and secrets. */
function deviceMetaOf(device: DeviceKeys, name: string): DeviceMeta {
  return { deviceId: device.deviceId, name, signSeed: b64(device.sign.seed), boxSecret: b64(device.box.secret) };
}

/** Writes a new device's state (sealed under the local passphrase if one is given) and opens its session. */
async function startSession(o: VaultOptions, remote: Remote, deps: Deps, joined: JoinedState, warnings: readonly SyncWarning[] = []): Promise<VaultSession> {
  const localKey = await persistJoinedSealed(o.store, joined, o.localPassphrase, deps);
  return new VaultSession(o.store, remote, o, deps, joined, localKey, warnings);
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
