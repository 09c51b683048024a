/**
 * @module format/framing
 * Preamble, big-endian field reading/writing and signatures shared by every
 * object type. See docs/FORMAT.md.
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { bytesToHex, concatBytes, ed25519Sign, ed25519Verify, fromUtf8, hexToBytes, u32, u64, utf8 } from '../crypto/index.js';

/** Format version written into every object's preamble. */
export const FORMAT_VERSION = 1;
/** Cipher suite 1: AES-256-GCM, Ed25519, X25519, HKDF-SHA256, SHA-256, deflate-raw. */
export const SUITE = 1;
export const SIGNATURE_BYTES = 64;
const MAGIC = utf8('KITH');

/** Object types (the preamble's fifth byte). */
export const ObjectType = {
  Vault: 'V',
  /** A person's device certificate (spaces/device-cert.ts). */
  Device: 'D',
  SealedKey: 'K',
  Segment: 'S',
  Head: 'H',
  Registry: 'R',
  Chunk: 'C',
  Manifest: 'M',
  Backup: 'B',
  Snapshot: 'N',
  /** A space's membership entry (spaces/membership-entry.ts). */
  Membership: 'P',
  /** A person's identity secret sealed to one of their devices (spaces/person.ts). */
  SealedIdentity: 'I',
  /** The entry that starts a key epoch of a space (spaces/epoch-entry.ts). */
  SpaceEpoch: 'E',
} as const;
export type ObjectType = (typeof ObjectType)[keyof typeof ObjectType];

export const corrupt = (what: string, why: string): KithError =>
  new KithError(ErrorCode.IntegrityCorrupt, `${what} is corrupt: ${why}`, {
    hint: 'the remote object was altered or damaged; restore it from another copy or remove it',
  });

/** Appends fields to a growing object. */
export class ObjectWriter {
  readonly #parts: Uint8Array[] = [];
  /** `version` is the format version of this object type (an object type may move past {@link FORMAT_VERSION} on its own). */
  constructor(type: ObjectType, version: number = FORMAT_VERSION) {
    this.#parts.push(MAGIC, Uint8Array.of(type.charCodeAt(0), version));
  }
  u8(n: number): this {
    this.#parts.push(Uint8Array.of(n));
    return this;
  }
  u32(n: number): this {
    this.#parts.push(u32(n));
    return this;
  }
  u64(n: number): this {
    this.#parts.push(u64(n));
    return this;
  }
  bytes(b: Uint8Array): this {
    this.#parts.push(b);
    return this;
  }
  hex(s: string, length: number): this {
    const b = hexToBytes(s);
    if (b.length !== length) throw new KithError(ErrorCode.Internal, `expected ${length}-byte id`);
    return this.bytes(b);
  }
  /** u8 length + ASCII. */
  shortText(s: string): this {
    const b = utf8(s);
    if (b.length > 255) throw new KithError(ErrorCode.Internal, 'short text too long');
    return this.u8(b.length).bytes(b);
  }
  /** u16 length + UTF-8. */
  text(s: string, max: number): this {
    const b = utf8(s);
    if (b.length > max) throw new KithError(ErrorCode.BadInput, `text longer than ${max} bytes`);
    this.#parts.push(Uint8Array.of(b.length >> 8, b.length & 0xff), b);
    return this;
  }
  finish(): Uint8Array {
    return concatBytes(...this.#parts);
  }
  /** Appends the Ed25519 signature over the domain-separated object so far. */
  async sign(domain: string, vaultId: string, seed: Uint8Array): Promise<Uint8Array> {
    const body = this.finish();
    const sig = await ed25519Sign(seed, signatureInput(domain, vaultId, body));
    return concatBytes(body, sig);
  }
}

/** The signed message: domain ‖ 0x00 ‖ vaultId ‖ object bytes before the signature. */
export function signatureInput(domain: string, vaultId: string, body: Uint8Array): Uint8Array {
  return concatBytes(utf8(domain), Uint8Array.of(0), hexToBytes(vaultId), body);
}

/** Reads fields in order; any overrun is a corrupt object. */
export class ObjectReader {
  #at = 6;
  /** The object's format version (one of those the caller reads). */
  readonly version: number;
  constructor(
    readonly bytes: Uint8Array,
    readonly what: string,
    type: ObjectType,
    versions: readonly number[] = [FORMAT_VERSION],
  ) {
    if (bytes.length < 6 || fromUtf8Lenient(bytes.subarray(0, 4)) !== 'KITH') throw corrupt(what, 'not a Kith object');
    if (bytes[4] !== type.charCodeAt(0)) throw corrupt(what, `expected type ${type}, found ${String.fromCharCode(bytes[4]!)}`);
    if (!versions.includes(bytes[5]!)) {
      throw new KithError(ErrorCode.UnsupportedFormat, `${what} uses format version ${bytes[5]}; this build reads version ${versions.join(' and ')}`, {
        hint: 'this device needs a newer version of the software',
        reason: 'newer-format',
      });
    }
    this.version = bytes[5]!;
  }
  get offset(): number {
    return this.#at;
  }
  take(n: number): Uint8Array {
    if (this.#at + n > this.bytes.length) throw corrupt(this.what, 'truncated');
    const out = this.bytes.subarray(this.#at, this.#at + n);
    this.#at += n;
    return out;
  }
  u8(): number {
    return this.take(1)[0]!;
  }
  u16(): number {
    const b = this.take(2);
    return (b[0]! << 8) | b[1]!;
  }
  u32(): number {
    const b = this.take(4);
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0);
  }
  u64(): number {
    const b = this.take(8);
    const v = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(this.what, 'integer out of range');
    return Number(v);
  }
  hex(n: number): string {
    return bytesToHex(this.take(n));
  }
  shortText(): string {
    return this.#utf8(this.take(this.u8()));
  }
  text(max: number): string {
    const n = this.u16();
    if (n > max) throw corrupt(this.what, 'text field too long');
    return this.#utf8(this.take(n));
  }
  #utf8(b: Uint8Array): string {
    try {
      return fromUtf8(b);
    } catch {
      throw corrupt(this.what, 'text field is not UTF-8');
    }
  }
  /** Checks that exactly the signature remains, then verifies it. */
  async verify(domain: string, vaultId: string, pub: Uint8Array): Promise<void> {
    if (this.bytes.length - this.#at !== SIGNATURE_BYTES) throw corrupt(this.what, 'wrong length');
    const body = this.bytes.subarray(0, this.#at);
    const sig = this.bytes.subarray(this.#at);
    if (!(await ed25519Verify(pub, signatureInput(domain, vaultId, body), sig))) throw corrupt(this.what, 'bad signature');
    this.#at = this.bytes.length;
  }
}

function fromUtf8Lenient(b: Uint8Array): string {
  return String.fromCharCode(...b);
}
