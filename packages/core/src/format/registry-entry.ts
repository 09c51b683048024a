/**
 * @module format/registry-entry
 * `registry/<seq>`: the vault's device registry as one signed hash chain.
 * Each entry adds, revokes or renames a device, or rotates the recovery or
 * password keys; it is signed by a signer the chain already admits and
 * names the hash of the entry before it, so the remote can neither forge
 * nor drop entries without the devices noticing.
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { sha256 } from '../crypto/index.js';
import { FORMAT_VERSION, ObjectReader, ObjectType, ObjectWriter, corrupt } from './framing.js';

export const REGISTRY_DOMAIN = 'kith/v1/registry';
/**
 * Version 2 of the entry differs only in the revoke and recovery kinds,
 * which carry the new epoch's key check: an entry that opens an epoch is
 * written as version 2, every other entry as version 1 (same bytes).
 */
export const REGISTRY_VERSION_KEY_CHECK = 2;
const REGISTRY_VERSIONS = [FORMAT_VERSION, REGISTRY_VERSION_KEY_CHECK];
/** Bytes of an epoch key check (see format/sealed-key.ts). */
export const KEY_CHECK_BYTES = 32;
/** Longest device name in UTF-8 bytes. */
export const MAX_DEVICE_NAME_BYTES = 200;

/** Argon2id parameters for the password key. */
export interface PasswordParams {
  /** Memory in KiB. */
  readonly memoryKiB: number;
  readonly iterations: number;
  readonly parallelism: number;
  readonly salt: Uint8Array;
}

export type RegistryChange =
  | { readonly kind: 'add'; readonly deviceId: string; readonly name: string; readonly signPub: Uint8Array; readonly boxPub: Uint8Array }
  /**
   * Segments of the device after `lastSeq` are refused; `epoch` is the epoch that starts now.
   * `keyCheck` (absent in version 1 entries) commits to that epoch's key: only the key the entry's signer chose opens it.
   */
  | { readonly kind: 'revoke'; readonly deviceId: string; readonly lastSeq: number; readonly epoch: number; readonly keyCheck?: Uint8Array }
  | { readonly kind: 'rename'; readonly deviceId: string; readonly name: string }
  | { readonly kind: 'recovery'; readonly signPub: Uint8Array; readonly boxPub: Uint8Array; readonly epoch: number; readonly keyCheck?: Uint8Array }
  | { readonly kind: 'password'; readonly signPub: Uint8Array; readonly boxPub: Uint8Array; readonly params: PasswordParams }
  | { readonly kind: 'password-remove' };

export interface RegistryEntry {
  readonly seq: number;
  readonly prevHash: Uint8Array;
  readonly at: number;
  /** `recovery`, `password`, or a deviceId. */
  readonly signer: string;
  readonly change: RegistryChange;
}

const KIND_CODES = { add: 1, revoke: 2, rename: 3, recovery: 4, password: 5, 'password-remove': 6 } as const;
const KIND_NAMES = Object.fromEntries(Object.entries(KIND_CODES).map(([k, v]) => [v, k])) as Record<number, RegistryChange['kind']>;

export async function encodeRegistryEntry(vaultId: string, e: RegistryEntry, signerSeed: Uint8Array): Promise<{ bytes: Uint8Array; hash: Uint8Array }> {
  const c = e.change;
  const checked = (c.kind === 'revoke' || c.kind === 'recovery') && c.keyCheck !== undefined;
  if (checked && c.keyCheck.length !== KEY_CHECK_BYTES) throw new KithError(ErrorCode.Internal, 'expected a 32-byte key check');
  const w = new ObjectWriter(ObjectType.Registry, checked ? REGISTRY_VERSION_KEY_CHECK : FORMAT_VERSION)
    .u64(e.seq)
    .bytes(e.prevHash)
    .u64(e.at)
    .shortText(e.signer)
    .u8(KIND_CODES[e.change.kind]);
  switch (c.kind) {
    case 'add':
      w.hex(c.deviceId, 8).bytes(c.signPub).bytes(c.boxPub).text(c.name, MAX_DEVICE_NAME_BYTES);
      break;
    case 'revoke':
      w.hex(c.deviceId, 8).u64(c.lastSeq).u32(c.epoch);
      if (c.keyCheck) w.bytes(c.keyCheck);
      break;
    case 'rename':
      w.hex(c.deviceId, 8).text(c.name, MAX_DEVICE_NAME_BYTES);
      break;
    case 'recovery':
      w.bytes(c.signPub).bytes(c.boxPub).u32(c.epoch);
      if (c.keyCheck) w.bytes(c.keyCheck);
      break;
    case 'password':
      w.bytes(c.signPub).bytes(c.boxPub).u32(c.params.memoryKiB).u32(c.params.iterations).u8(c.params.parallelism).bytes(c.params.salt);
      break;
    case 'password-remove':
      break;
  }
  const bytes = await w.sign(REGISTRY_DOMAIN, vaultId, signerSeed);
  return { bytes, hash: await sha256(bytes) };
}

/**
 * Decodes an entry and checks its place in the chain (seq, prevHash) and
 * its signature by `signerPub(signer)` (undefined: not an admitted signer).
 */
export async function decodeRegistryEntry(
  bytes: Uint8Array,
  expect: { readonly vaultId: string; readonly seq: number; readonly prevHash: Uint8Array },
  signerPub: (signer: string) => Uint8Array | undefined,
): Promise<{ entry: RegistryEntry; hash: Uint8Array }> {
  const what = `registry entry ${expect.seq}`;
  const r = new ObjectReader(bytes, what, ObjectType.Registry, REGISTRY_VERSIONS);
  const keyCheck = (): { keyCheck?: Uint8Array } => (r.version === REGISTRY_VERSION_KEY_CHECK ? { keyCheck: r.take(KEY_CHECK_BYTES).slice() } : {});
  const seq = r.u64();
  const prevHash = r.take(32).slice();
  if (seq !== expect.seq) throw new KithError(ErrorCode.IntegrityChain, `${what} holds entry ${seq}: the registry was reordered or replayed`);
  if (!prevHash.every((b, i) => b === expect.prevHash[i])) {
    throw new KithError(ErrorCode.IntegrityChain, `${what} does not follow entry ${seq - 1}: the registry was altered`);
  }
  const at = r.u64();
  const signer = r.shortText();
  const code = r.u8();
  const kind = KIND_NAMES[code];
  let change: RegistryChange;
  switch (kind) {
    case 'add':
      change = { kind, deviceId: r.hex(8), signPub: r.take(32).slice(), boxPub: r.take(32).slice(), name: r.text(MAX_DEVICE_NAME_BYTES) };
      break;
    case 'revoke':
      change = { kind, deviceId: r.hex(8), lastSeq: r.u64(), epoch: r.u32(), ...keyCheck() };
      break;
    case 'rename':
      change = { kind, deviceId: r.hex(8), name: r.text(MAX_DEVICE_NAME_BYTES) };
      break;
    case 'recovery':
      change = { kind, signPub: r.take(32).slice(), boxPub: r.take(32).slice(), epoch: r.u32(), ...keyCheck() };
      break;
    case 'password': {
      const signPub = r.take(32).slice();
      const boxPub = r.take(32).slice();
      change = { kind, signPub, boxPub, params: { memoryKiB: r.u32(), iterations: r.u32(), parallelism: r.u8(), salt: r.take(16).slice() } };
      break;
    }
    case 'password-remove':
      change = { kind };
      break;
    default:
      throw corrupt(what, `unknown change kind ${code}`);
  }
  // One encoding per meaning: version 2 exists only for the kinds that open an epoch.
  if (r.version === REGISTRY_VERSION_KEY_CHECK && !('keyCheck' in change)) throw corrupt(what, `a version 2 entry cannot be of kind ${code}`);
  const pub = signerPub(signer);
  if (!pub) {
    throw new KithError(ErrorCode.IntegrityUnknownSigner, `${what} is signed by ${signer}, which the registry does not admit at that point`, {
      hint: 'someone with write access to the remote tried to change the device list; remove the object',
    });
  }
  await r.verify(REGISTRY_DOMAIN, expect.vaultId, pub);
  const entry: RegistryEntry = { seq, prevHash, at, signer, change };
  return { entry, hash: await sha256(bytes) };
}
