/**
 * @module format/backup-header
 * The backup file's cleartext header and what it seals: the file key
 * wrapped to the recovery key, the password key and an epoch key, and the
 * types a backup's frames carry. docs/FORMAT.md "Backup file".
 */
import type { RandomBytes } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import {
  aesGcmDecrypt,
  aesGcmEncrypt,
  boxKeyFromSecret,
  concatBytes,
  hexToBytes,
  hkdfSha256,
  u32,
  utf8,
  x25519Shared,
  type Argon2Params,
} from '../crypto/index.js';
import { ObjectReader, ObjectType, ObjectWriter, SUITE, corrupt } from './framing.js';

/** Version 2 also carries the person's identity sealed to the recovery and password keys (`keys/identity/recovery|password`) and the reserved `_kith.` collections' records. */
export const BACKUP_VERSION = 2;
/** Versions this build reads. */
export const BACKUP_VERSIONS: readonly number[] = [1, BACKUP_VERSION];
export const BACKUP_DOMAIN = 'kith/v1/backup';
const KEY_INFO = 'kith/v1/backup-key';
export const FRAME_INFO = 'kith/v1/backup-frame';
/** Largest header: a few stanzas; anything bigger is not a backup. */
export const MAX_HEADER = 64 * 1024;
/** Largest frame plaintext: a record may hold 16 MiB of JSON (FORMAT.md "Field values"). */
export const MAX_FRAME_BYTES = 24 * 1024 * 1024;
const FLAG_BLOBS = 1;
const FLAG_INCREMENTAL = 2;
const ZERO_NONCE = new Uint8Array(12);
export const TAG = 16;

/** Frame types (the first plaintext byte). */
export const FrameType = { State: 1, Object: 2, Records: 3, Blob: 4, End: 0xff } as const;

/** The cleartext header's fields. */
export interface BackupHeader {
  readonly vaultId: string;
  /** The device that wrote the file (its signature ends it). */
  readonly deviceId: string;
  readonly createdAt: number;
  /** The vault's current recovery signing key: a wrong code is told apart before any decryption. */
  readonly recoverySignPub: Uint8Array;
  /** 16 random bytes: every key of the file is derived with it. */
  readonly salt: Uint8Array;
  readonly blobs: boolean;
  /** For an incremental backup: the previous file of the chain, its SHA-256 and its name when written. */
  readonly previous?: { readonly hash: Uint8Array; readonly name: string };
  /** The file's format version (writers: BACKUP_VERSION unless given; the test vectors write older ones). */
  readonly version?: number;
}

/** Who can open the file key. */
export type BackupStanza =
  | { readonly kind: 'recovery'; readonly ephPub: Uint8Array; readonly ct: Uint8Array }
  | { readonly kind: 'password'; readonly params: Argon2Params; readonly signPub: Uint8Array; readonly ephPub: Uint8Array; readonly ct: Uint8Array }
  | { readonly kind: 'epoch'; readonly epoch: number; readonly ct: Uint8Array };

/** What the writer seals the file key to. */
export interface BackupRecipients {
  readonly recoveryBoxPub: Uint8Array;
  readonly password?: { readonly params: Argon2Params; readonly signPub: Uint8Array; readonly boxPub: Uint8Array };
  readonly epoch?: { readonly epoch: number; readonly key: Uint8Array };
}

/** A record in a records frame: its fields, or null when the backup says it was deleted. */
export type BackupRecord = [collection: string, id: string, fields: Record<string, unknown> | null];

/** The first frame: what a later incremental backup needs to know of this one. */
export interface BackupState {
  readonly v: 1;
  /** Per device, the newest stamp (13 characters) whose writes this file's chain holds. */
  readonly vv: Record<string, string>;
  /** Manifest ids of every blob the chain up to this file holds. */
  readonly blobs: string[];
  /** The previous file's key (hex), so the newest file's recipients open the whole chain. */
  readonly previousKey?: string;
}

export type BackupFrame =
  | { readonly type: 'state'; readonly state: BackupState }
  | { readonly type: 'object'; readonly key: string; readonly bytes: Uint8Array }
  | { readonly type: 'records'; readonly records: BackupRecord[] }
  | { readonly type: 'blob'; readonly kind: 'chunk' | 'manifest'; readonly id: string; readonly bytes: Uint8Array }
  | { readonly type: 'end'; readonly records: number; readonly blobs: number; readonly signature: Uint8Array };

export const backupCorrupt = (what: string, why: string): KithError =>
  new KithError(ErrorCode.IntegrityCorrupt, `${what} is corrupt: ${why}`, { hint: 'the file was altered or damaged; nothing from it was used' });

// ---------------------------------------------------------------- header

const stanzaSize = (s: BackupStanza['kind']): number => 1 + s.length + (s === 'recovery' ? 32 + 48 : s === 'password' ? 4 + 4 + 1 + 16 + 32 + 32 + 48 : 4 + 48);

function fixedPart(h: BackupHeader, length: number): Uint8Array {
  const w = new ObjectWriter(ObjectType.Backup, h.version ?? BACKUP_VERSION)
    .u32(length)
    .u8(SUITE)
    .u8((h.blobs ? FLAG_BLOBS : 0) | (h.previous ? FLAG_INCREMENTAL : 0))
    .hex(h.vaultId, 16)
    .hex(h.deviceId, 8)
    .u64(h.createdAt)
    .bytes(h.recoverySignPub)
    .bytes(h.salt)
    .bytes(h.previous?.hash ?? new Uint8Array(32))
    .shortText(h.previous?.name ?? '');
  return w.finish();
}

function x25519WrapKey(shared: Uint8Array, ephPub: Uint8Array, rcptPub: Uint8Array, h: BackupHeader, recipient: string): Uint8Array {
  return hkdfSha256(shared, concatBytes(ephPub, rcptPub), concatBytes(utf8(KEY_INFO), hexToBytes(h.vaultId), h.salt, utf8(recipient)), 32);
}

function epochWrapKey(epochKey: Uint8Array, h: BackupHeader, epoch: number): Uint8Array {
  return hkdfSha256(epochKey, h.salt, concatBytes(utf8(KEY_INFO), hexToBytes(h.vaultId), u32(epoch), utf8('epoch')), 32);
}

/** The key every frame is encrypted under. */
export function backupFrameKey(fileKey: Uint8Array, h: BackupHeader): Uint8Array {
  return hkdfSha256(fileKey, h.salt, concatBytes(utf8(FRAME_INFO), hexToBytes(h.vaultId)), 32);
}

/** The header with the file key sealed to each recipient (an ephemeral X25519 key each: `random(32)`). */
export async function encodeBackupHeader(h: BackupHeader, fileKey: Uint8Array, to: BackupRecipients, random: RandomBytes): Promise<Uint8Array> {
  const kinds: BackupStanza['kind'][] = ['recovery', ...(to.password ? (['password'] as const) : []), ...(to.epoch ? (['epoch'] as const) : [])];
  const length = fixedPart(h, 0).length + 1 + kinds.reduce((n, k) => n + stanzaSize(k), 0);
  const aad = fixedPart(h, length);
  const parts: Uint8Array[] = [aad, Uint8Array.of(kinds.length)];
  const sealX = async (recipient: string, rcptPub: Uint8Array): Promise<[Uint8Array, Uint8Array]> => {
    const eph = boxKeyFromSecret(random(32));
    const key = x25519WrapKey(x25519Shared(eph.secret, rcptPub), eph.pub, rcptPub, h, recipient);
    return [eph.pub, await aesGcmEncrypt(key, ZERO_NONCE, fileKey, aad)];
  };
  const [rEph, rCt] = await sealX('recovery', to.recoveryBoxPub);
  parts.push(Uint8Array.of(8), utf8('recovery'), rEph, rCt);
  if (to.password) {
    const p = to.password;
    const [pEph, pCt] = await sealX('password', p.boxPub);
    parts.push(Uint8Array.of(8), utf8('password'), u32(p.params.memoryKiB), u32(p.params.iterations), Uint8Array.of(p.params.parallelism), p.params.salt);
    parts.push(p.signPub, pEph, pCt);
  }
  if (to.epoch) {
    // The salt is random per file, so this wrap key is used once and a zero nonce is safe.
    const ct = await aesGcmEncrypt(epochWrapKey(to.epoch.key, h, to.epoch.epoch), ZERO_NONCE, fileKey, aad);
    parts.push(Uint8Array.of(5), utf8('epoch'), u32(to.epoch.epoch), ct);
  }
  const out = concatBytes(...parts);
  if (out.length !== length) throw new KithError(ErrorCode.Internal, 'backup header length mismatch');
  return out;
}

/** A parsed header: its fields, stanzas, and the bytes stanzas are bound to. */
export interface ParsedBackupHeader {
  readonly header: BackupHeader;
  readonly stanzas: readonly BackupStanza[];
  readonly bytes: Uint8Array;
  readonly aad: Uint8Array;
}

/** Parses a whole header (its length is the u32 after the preamble); any bad field is KITH_INTEGRITY_CORRUPT. */
export function decodeBackupHeader(bytes: Uint8Array, what: string): ParsedBackupHeader {
  const r = new ObjectReader(bytes, what, ObjectType.Backup, BACKUP_VERSIONS);
  const length = r.u32();
  if (length !== bytes.length) throw corrupt(what, 'wrong header length');
  if (r.u8() !== SUITE) throw corrupt(what, 'unknown cipher suite');
  const flags = r.u8();
  if (flags & ~(FLAG_BLOBS | FLAG_INCREMENTAL)) throw corrupt(what, `unknown flags ${flags}`);
  const vaultId = r.hex(16);
  const deviceId = r.hex(8);
  const createdAt = r.u64();
  const recoverySignPub = r.take(32);
  const salt = r.take(16);
  const prevHash = r.take(32);
  const prevName = r.shortText();
  const incremental = (flags & FLAG_INCREMENTAL) !== 0;
  const zero = prevHash.every((b) => b === 0);
  if (incremental === zero || incremental === (prevName === '')) throw corrupt(what, 'the previous file is named only in part');
  const aad = bytes.subarray(0, r.offset);
  const n = r.u8();
  if (n < 1 || n > 3) throw corrupt(what, 'wrong number of recipients');
  const stanzas: BackupStanza[] = [];
  for (let i = 0; i < n; i++) {
    const kind = r.shortText();
    if (stanzas.some((s) => s.kind === kind)) throw corrupt(what, `recipient ${kind} twice`);
    if (kind === 'recovery') stanzas.push({ kind, ephPub: r.take(32), ct: r.take(48) });
    else if (kind === 'password') {
      const params = { memoryKiB: r.u32(), iterations: r.u32(), parallelism: r.u8(), salt: r.take(16) };
      stanzas.push({ kind, params, signPub: r.take(32), ephPub: r.take(32), ct: r.take(48) });
    } else if (kind === 'epoch') stanzas.push({ kind, epoch: r.u32(), ct: r.take(48) });
    else throw corrupt(what, `unknown recipient ${JSON.stringify(kind)}`);
  }
  if (r.offset !== bytes.length) throw corrupt(what, 'trailing bytes in the header');
  const header: BackupHeader = {
    vaultId,
    deviceId,
    createdAt,
    recoverySignPub,
    salt,
    blobs: (flags & FLAG_BLOBS) !== 0,
    version: r.version,
    ...(incremental ? { previous: { hash: prevHash, name: prevName } } : {}),
  };
  return { header, stanzas, bytes, aad };
}

/** Opens the file key with the recovery or password box secret (`recipient`), or an epoch key; undefined if the header has no such stanza. */
export async function openBackupKey(
  p: ParsedBackupHeader,
  how: { recipient: 'recovery' | 'password'; boxSecret: Uint8Array } | { recipient: 'epoch'; epoch: (n: number) => Promise<Uint8Array> },
): Promise<Uint8Array | undefined> {
  const s = p.stanzas.find((x) => x.kind === how.recipient);
  if (!s) return undefined;
  if (s.kind === 'epoch') {
    if (how.recipient !== 'epoch') return undefined;
    return aesGcmDecrypt(epochWrapKey(await how.epoch(s.epoch), p.header, s.epoch), ZERO_NONCE, s.ct, p.aad);
  }
  if (how.recipient === 'epoch') return undefined;
  const rcptPub = boxKeyFromSecret(how.boxSecret).pub;
  const key = x25519WrapKey(x25519Shared(how.boxSecret, s.ephPub), s.ephPub, rcptPub, p.header, s.kind);
  return aesGcmDecrypt(key, ZERO_NONCE, s.ct, p.aad);
}

/** Where the header holds the recovery signing key: preamble 6, length 4, suite 1, flags 1, vaultId 16, deviceId 8, createdAt 8. */
const RECOVERY_KEY_AT = 44;

/**
 * Whether the recovery stanza opens once the header's recovery key field
 * says `signPub`: when a code's key differs from the header's, this tells
 * an altered header (it opens) from a code of another vault (it does not).
 */
export async function opensWithRecoveryKey(p: ParsedBackupHeader, signPub: Uint8Array, boxSecret: Uint8Array): Promise<boolean> {
  const aad = p.aad.slice();
  aad.set(signPub, RECOVERY_KEY_AT);
  try {
    return (await openBackupKey({ ...p, aad }, { recipient: 'recovery', boxSecret })) !== undefined;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- frames
