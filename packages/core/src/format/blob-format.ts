/**
 * @module blobs/blob-format
 * Blob objects on the remote: chunks (`blobs/chunks/<id>`) and manifests
 * (`blobs/manifests/<id>`). Each is addressed by a keyed hash of its
 * plaintext (HMAC-SHA256 under a vault key, so the remote cannot test for
 * known content), encrypted with AES-256-GCM under a key derived for that
 * id, and checked against its id after decryption. See docs/FORMAT.md
 * "Blobs".
 */
import { ErrorCode, KithError } from '../base/errors.js';
import {
  aesGcmDecrypt,
  aesGcmEncrypt,
  bytesEqual,
  bytesToHex,
  compress,
  concatBytes,
  decompress,
  hexToBytes,
  hkdfSha256,
  hmacSha256With,
  utf8,
} from '../crypto/index.js';
import { ObjectReader, ObjectType, ObjectWriter, SUITE, corrupt } from './framing.js';
import type { RandomBytes } from '../base/deps.js';

export const BLOB_DOMAIN = 'kith/v1/blob';
export const BLOB_REF_PREFIX = 'kith:blob:';
const FLAG_DEFLATE = 1;
const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

export type BlobObjectKind = 'chunk' | 'manifest';

export const blobKeys = {
  chunk: (id: string): string => `blobs/chunks/${id}`,
  manifest: (id: string): string => `blobs/manifests/${id}`,
  chunksPrefix: 'blobs/chunks/',
  manifestsPrefix: 'blobs/manifests/',
  gcMark: (id: string): string => `blobs/gc/${id}`,
  gcPrefix: 'blobs/gc/',
} as const;

/** What a blob ref looks like in a record field: `kith:blob:<64 hex>`. */
export function formatBlobRef(manifestId: string): string {
  return BLOB_REF_PREFIX + manifestId;
}

/** The manifest id of a ref, or a clear error. */
export function parseBlobRef(ref: string): string {
  const id = ref.startsWith(BLOB_REF_PREFIX) ? ref.slice(BLOB_REF_PREFIX.length) : '';
  if (!/^[0-9a-f]{64}$/.test(id))
    throw new KithError(ErrorCode.BadInput, `not a blob ref: ${JSON.stringify(ref)}`, { hint: 'a ref looks like kith:blob:<64 hex digits>' });
  return id;
}

export const isBlobRef = (v: unknown): v is string =>
  typeof v === 'string' && v.startsWith(BLOB_REF_PREFIX) && /^[0-9a-f]{64}$/.test(v.slice(BLOB_REF_PREFIX.length));

const idSigners = new Map<string, (data: Uint8Array) => Promise<Uint8Array>>();

/** Keyed content id: HMAC-SHA256(idKey, plaintext), idKey = HKDF(epochKey, "", "kith/v1/blob-id" ‖ vaultId). */
export async function blobId(epochKey: Uint8Array, vaultId: string, plaintext: Uint8Array): Promise<string> {
  return bytesToHex(await blobIdBytes(epochKey, vaultId, plaintext));
}

/** {@link blobId} as bytes (a check compares bytes, without a round trip through hex). */
async function blobIdBytes(epochKey: Uint8Array, vaultId: string, plaintext: Uint8Array): Promise<Uint8Array> {
  const cacheKey = bytesToHex(epochKey) + vaultId;
  let sign = idSigners.get(cacheKey);
  if (!sign) {
    sign = hmacSha256With(hkdfSha256(epochKey, new Uint8Array(0), concatBytes(utf8('kith/v1/blob-id'), hexToBytes(vaultId)), 32));
    if (idSigners.size > 64) idSigners.clear();
    idSigners.set(cacheKey, sign);
  }
  return sign(plaintext);
}

const objectKey = (epochKey: Uint8Array, vaultId: string, id: Uint8Array): Uint8Array =>
  hkdfSha256(epochKey, id, concatBytes(utf8(BLOB_DOMAIN), hexToBytes(vaultId)), 32);

/** Shannon entropy of the byte values, in bits per byte: near 8 for encrypted, compressed and media bytes. */
function entropy(bytes: Uint8Array): number {
  const counts = new Uint32Array(256);
  for (let i = 0; i < bytes.length; i++) counts[bytes[i]!]!++;
  let bits = 0;
  for (const c of counts) if (c > 0) bits -= c * Math.log2(c / bytes.length);
  return bits / bytes.length;
}

/**
 * Worth compressing? Bytes that look random in their first 16 KiB are
 * not (photos, videos, archives; judged in microseconds, with no deflate
 * trial); others are judged by deflating a 64 KiB sample.
 */
async function shouldCompress(plain: Uint8Array): Promise<boolean> {
  if (plain.length < 512 || entropy(plain.subarray(0, 16 * 1024)) > 7.5) return false;
  const sample = plain.subarray(0, Math.min(plain.length, 64 * 1024));
  return (await compress(sample)).length < sample.length * 0.9;
}

/** Encrypts a chunk or manifest whose id is `id` (from {@link blobId}). */
export async function encodeBlobObject(
  kind: BlobObjectKind,
  a: { vaultId: string; epoch: number; epochKey: Uint8Array; id: string; plaintext: Uint8Array; random: RandomBytes },
): Promise<Uint8Array> {
  const packed = (await shouldCompress(a.plaintext)) ? await compress(a.plaintext) : undefined;
  const nonce = a.random(12);
  const idBytes = hexToBytes(a.id);
  const header = new ObjectWriter(kind === 'chunk' ? ObjectType.Chunk : ObjectType.Manifest)
    .u8(SUITE)
    .u8(packed ? FLAG_DEFLATE : 0)
    .u32(a.epoch)
    .bytes(idBytes)
    .bytes(nonce)
    .finish();
  const aad = concatBytes(utf8(BLOB_DOMAIN), hexToBytes(a.vaultId), header);
  return aesGcmEncrypt(objectKey(a.epochKey, a.vaultId, idBytes), nonce, packed ?? a.plaintext, aad, header);
}

/** The epoch a blob object says it is under (unverified; to fetch the key first). */
export function peekBlobEpoch(bytes: Uint8Array): number | undefined {
  return bytes.length < 12 ? undefined : new DataView(bytes.buffer, bytes.byteOffset + 8, 4).getUint32(0);
}

/**
 * Decrypts a chunk or manifest and checks that its plaintext hashes to
 * `expectId`: a tampered, truncated or swapped object is KITH_INTEGRITY_CORRUPT.
 */
export async function decodeBlobObject(
  kind: BlobObjectKind,
  bytes: Uint8Array,
  a: { vaultId: string; expectId: string; epochKey: (epoch: number) => Uint8Array | undefined; maxBytes: number },
): Promise<Uint8Array> {
  const what = `blob ${kind} ${a.expectId.slice(0, 12)}…`;
  const r = new ObjectReader(bytes, what, kind === 'chunk' ? ObjectType.Chunk : ObjectType.Manifest);
  const suite = r.u8();
  if (suite !== SUITE) throw corrupt(what, `unknown cipher suite ${suite}`);
  const flags = r.u8();
  if (flags & ~FLAG_DEFLATE) throw corrupt(what, `unknown flags ${flags}`);
  const epoch = r.u32();
  const idBytes = r.take(32);
  const nonce = r.take(12);
  const header = bytes.subarray(0, r.offset);
  if (bytesToHex(idBytes) !== a.expectId) throw corrupt(what, 'it holds another object');
  const epochKey = a.epochKey(epoch);
  if (!epochKey) throw corrupt(what, `it is encrypted under epoch ${epoch}, whose key this device does not hold`);
  const ct = bytes.subarray(r.offset);
  if (ct.length < 16) throw corrupt(what, 'truncated');
  const aad = concatBytes(utf8(BLOB_DOMAIN), hexToBytes(a.vaultId), header);
  const inner = await aesGcmDecrypt(objectKey(epochKey, a.vaultId, idBytes), nonce, ct, aad).catch((cause: unknown) => {
    throw new KithError(ErrorCode.IntegrityCorrupt, `${what} is corrupt: it was altered or truncated on the remote`, {
      cause,
      hint: 'nothing from it was used; re-upload the file from a device that has it',
    });
  });
  const plain = flags & FLAG_DEFLATE ? await decompress(inner, a.maxBytes) : inner;
  if (plain.length > a.maxBytes) throw corrupt(what, 'too large');
  if (!bytesEqual(await blobIdBytes(epochKey, a.vaultId, plain), idBytes)) throw corrupt(what, 'its content does not match its id');
  return plain;
}

/** A blob's manifest (encrypted like a chunk; its id is the blob's ref). */
export interface BlobManifest {
  readonly v: 1;
  readonly size: number;
  readonly name?: string;
  readonly type?: string;
  /** [chunk id, chunk size] in order. */
  readonly chunks: readonly (readonly [string, number])[];
}

export function encodeManifestPlaintext(m: BlobManifest): Uint8Array {
  return utf8(JSON.stringify(m));
}

export function decodeManifestPlaintext(bytes: Uint8Array, id: string): BlobManifest {
  let m: unknown;
  try {
    m = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw corrupt(`blob manifest ${id.slice(0, 12)}…`, 'not JSON');
  }
  const ok =
    typeof m === 'object' &&
    m !== null &&
    (m as BlobManifest).v === 1 &&
    Number.isSafeInteger((m as BlobManifest).size) &&
    Array.isArray((m as BlobManifest).chunks) &&
    (m as BlobManifest).chunks.every((c) => Array.isArray(c) && /^[0-9a-f]{64}$/.test(String(c[0])) && Number.isSafeInteger(c[1]));
  if (!ok) throw corrupt(`blob manifest ${id.slice(0, 12)}…`, 'malformed');
  const man = m as BlobManifest;
  if (man.chunks.reduce((n, c) => n + c[1], 0) !== man.size) throw corrupt(`blob manifest ${id.slice(0, 12)}…`, 'chunk sizes do not add up');
  return man;
}

export { MAX_MANIFEST_BYTES };
