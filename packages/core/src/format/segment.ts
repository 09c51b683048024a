/**
 * @module format/segment
 * `segments/<device>/<seq>`: one device's batch of ops, compressed, padded,
 * encrypted under a per-object key, signed and hash-chained. Version 1 in
 * the personal space; version 2 in a shared space, where the header also
 * names the writer's person, the membership seq and the certificate
 * version it wrote under (see spaces/space-segments.ts).
 */
import type { RandomBytes } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { aesGcmDecrypt, aesGcmEncrypt, compress, concatBytes, decompress, hexToBytes, hkdfSha256, padme, sha256, u32, u64, utf8 } from '../crypto/index.js';
import { ObjectReader, ObjectType, ObjectWriter, SUITE, corrupt } from './framing.js';

export const SEGMENT_DOMAIN = 'kith/v1/segment';
/** Largest uncompressed payload a segment may carry (64 MiB). */
export const MAX_SEGMENT_PAYLOAD = 64 * 1024 * 1024;
/** The previous-segment hash of a device's first segment (and a head or registry with nothing yet): 32 zero bytes, in hex. */
export const ZERO_HASH_HEX = '00'.repeat(32);
const FLAG_DEFLATE = 1;
const HASH_BYTES = 32;
const SALT_BYTES = 16;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** A fresh AES key per object: the 96-bit random nonce never repeats under one key. */
function objectKey(epochKey: Uint8Array, salt: Uint8Array, vaultId: string, deviceId: string, seq: number): Uint8Array {
  return hkdfSha256(epochKey, salt, concatBytes(utf8(SEGMENT_DOMAIN), hexToBytes(vaultId), hexToBytes(deviceId), u64(seq)), 32);
}

/** Segment versions: 1 in the personal space, 2 (with {@link SegmentSpaceFields}) in a shared space. */
const PERSONAL_VERSION = 1;
const SPACE_VERSION = 2;

/** What a shared space's segment (version 2) says of its writer, so a reader can check the right to write before decrypting. */
export interface SegmentSpaceFields {
  readonly personId: string;
  /** The membership entry the writer wrote under. */
  readonly membershipSeq: number;
  /** The version of the person's device certificate that lists the writing device. */
  readonly certVersion: number;
}

/** A version 2 segment's unverified header, handed to the reader to find the signing key and check the writer. */
export interface SegmentWriterClaim extends SegmentSpaceFields {
  readonly deviceId: string;
  readonly seq: number;
  readonly epoch: number;
}

const aadOf = (vaultId: string, headerBytes: Uint8Array): Uint8Array => concatBytes(utf8(SEGMENT_DOMAIN), hexToBytes(vaultId), headerBytes);

export interface EncodeSegmentArgs {
  readonly vaultId: string;
  readonly deviceId: string;
  readonly epoch: number;
  readonly seq: number;
  /** SHA-256 of the previous segment of this device; 32 zero bytes for seq 1. */
  readonly prevHash: Uint8Array;
  /** Uncompressed payload bytes. */
  readonly payload: Uint8Array;
  readonly epochKey: Uint8Array;
  readonly signSeed: Uint8Array;
  readonly random: RandomBytes;
  /** Present in a shared space (vaultId = the spaceId): writes version 2. */
  readonly space?: SegmentSpaceFields;
}

export async function encodeSegment(a: EncodeSegmentArgs): Promise<{ bytes: Uint8Array; hash: Uint8Array }> {
  if (a.payload.length > MAX_SEGMENT_PAYLOAD)
    throw new KithError(ErrorCode.TooLarge, `segment payload of ${a.payload.length} bytes exceeds ${MAX_SEGMENT_PAYLOAD}`);
  if (a.prevHash.length !== HASH_BYTES) throw new KithError(ErrorCode.Internal, 'prevHash must be 32 bytes');
  const packed = await compress(a.payload);
  const plain = new Uint8Array(padme(4 + packed.length));
  plain.set(u32(packed.length), 0);
  plain.set(packed, 4);
  const salt = a.random(SALT_BYTES);
  const nonce = a.random(NONCE_BYTES);
  const header = new ObjectWriter(ObjectType.Segment, a.space ? SPACE_VERSION : PERSONAL_VERSION)
    .u8(SUITE)
    .u8(FLAG_DEFLATE)
    .u32(a.epoch)
    .hex(a.deviceId, 8)
    .u64(a.seq)
    .bytes(a.prevHash);
  if (a.space) header.hex(a.space.personId, 16).u64(a.space.membershipSeq).u64(a.space.certVersion);
  header
    .bytes(salt)
    .bytes(nonce)
    .u32(plain.length + TAG_BYTES);
  const ct = await aesGcmEncrypt(objectKey(a.epochKey, salt, a.vaultId, a.deviceId, a.seq), nonce, plain, aadOf(a.vaultId, header.finish()));
  const bytes = await header.bytes(ct).sign(SEGMENT_DOMAIN, a.vaultId, a.signSeed);
  return { bytes, hash: await sha256(bytes) };
}

export interface DecodeSegmentArgs {
  readonly vaultId: string;
  readonly deviceId: string;
  readonly seq: number;
  /**
   * The writing device's key. In a shared space (`space`), a function of the
   * header: it throws unless the claimed writer may write there.
   */
  readonly signPub: Uint8Array | ((claim: SegmentWriterClaim) => Uint8Array);
  /** True to read a shared space's segment (version 2 only); otherwise version 1 only. */
  readonly space?: boolean;
  readonly epochKey: (epoch: number) => Uint8Array | undefined;
  readonly maxPayloadBytes: number;
  /**
   * Stop after the signature (the payload comes back empty): what a device
   * without the epoch's key can verify, e.g. `kith check` of a space it
   * is not a member of.
   */
  readonly signatureOnly?: boolean;
}

export interface DecodedSegment {
  readonly payload: Uint8Array;
  readonly prevHash: Uint8Array;
  readonly hash: Uint8Array;
  readonly epoch: number;
  /** Version 2 (shared space) only. */
  readonly space?: SegmentSpaceFields;
}

/**
 * Check order: preamble → framing → device and seq (a moved or replayed
 * object is KITH_INTEGRITY_CHAIN) → (shared space) signer and right to
 * write → signature → decrypt → padding → inflate.
 */
export async function decodeSegment(bytes: Uint8Array, a: DecodeSegmentArgs): Promise<DecodedSegment> {
  const what = `segment ${a.deviceId}/${a.seq}`;
  const r = new ObjectReader(bytes, what, ObjectType.Segment, [a.space ? SPACE_VERSION : PERSONAL_VERSION]);
  const suite = r.u8();
  if (suite !== SUITE) throw corrupt(what, `unknown cipher suite ${suite}`);
  const flags = r.u8();
  if (flags !== FLAG_DEFLATE) throw corrupt(what, `unknown flags ${flags}`);
  const epoch = r.u32();
  const deviceId = r.hex(8);
  const seq = r.u64();
  const prevHash = r.take(HASH_BYTES).slice();
  const space = a.space ? { personId: r.hex(16), membershipSeq: r.u64(), certVersion: r.u64() } : undefined;
  const salt = r.take(SALT_BYTES);
  const nonce = r.take(NONCE_BYTES);
  const ctLen = r.u32();
  const header = bytes.subarray(0, r.offset);
  const ct = r.take(ctLen);
  if (deviceId !== a.deviceId || seq !== a.seq) {
    throw new KithError(ErrorCode.IntegrityChain, `${what} holds segment ${deviceId}/${seq}: an object was moved or replayed`, {
      hint: 'the remote is serving an object under the wrong name; restore the right one',
    });
  }
  const signPub = typeof a.signPub === 'function' ? a.signPub({ deviceId, seq, epoch, ...space! }) : a.signPub;
  await r.verify(SEGMENT_DOMAIN, a.vaultId, signPub);
  if (a.signatureOnly === true) {
    const signed = { payload: new Uint8Array(0), prevHash, hash: await sha256(bytes), epoch };
    return space ? { ...signed, space } : signed;
  }
  const epochKey = a.epochKey(epoch);
  if (!epochKey) throw corrupt(what, `it is encrypted under epoch ${epoch}, whose key this device does not hold`);
  const plain = await aesGcmDecrypt(objectKey(epochKey, salt, a.vaultId, deviceId, seq), nonce, ct, aadOf(a.vaultId, header));
  if (plain.length < 4) throw corrupt(what, 'payload too short');
  const packedLen = new DataView(plain.buffer, plain.byteOffset, 4).getUint32(0);
  if (4 + packedLen > plain.length || padme(4 + packedLen) !== plain.length) throw corrupt(what, 'bad padding');
  for (let i = 4 + packedLen; i < plain.length; i++) if (plain[i] !== 0) throw corrupt(what, 'bad padding');
  const payload = await decompress(plain.subarray(4, 4 + packedLen), Math.min(a.maxPayloadBytes, MAX_SEGMENT_PAYLOAD));
  const out = { payload, prevHash, hash: await sha256(bytes), epoch };
  return space ? { ...out, space } : out;
}

/** The epoch a segment says it is encrypted under (unverified; to fetch its key before decoding). */
export function peekSegmentEpoch(bytes: Uint8Array): number | undefined {
  // preamble 6, suite 1, flags 1, epoch u32
  if (bytes.length < 12) return undefined;
  return new DataView(bytes.buffer, bytes.byteOffset + 8, 4).getUint32(0);
}
